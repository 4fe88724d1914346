/**
 * The vmsnap command line. {@link org.vmsnap.cli.Main} runs one command line in process
 * ({@code Main.run(out, err, args)}), which is also how tests and the demo drive
 * it; {@link org.vmsnap.cli.CliException} is a failure reported as one line with an exit code.
 */
package org.vmsnap.cli;
