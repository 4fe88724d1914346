package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Callable;

import org.vmsnap.cli.daemon.CliDaemon;
import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code vmsnap daemon}: keeps a warm vmsnap for the state folder until SIGINT or SIGTERM
 * ({@link CliDaemon}); the launcher hands it the short commands.
 */
@Command(name = "daemon",
        description = {"Keep a warm vmsnap for this state folder (until Ctrl-C): the launcher hands it the short"
                + " commands (domain and snapshot verbs, img info and img snapshot of absolute paths), which then"
                + " skip the JVM's start-up, as virsh's do with libvirtd. Data verbs (convert, commit, save, restore),"
                + " define and the verbs that read a file you name still run in their own JVM; VMSNAP_DAEMON=off"
                + " runs any command in its own JVM.",
                "A command handed over runs to its end even if its client is interrupted; its output and exit code"
                        + " are the same as in its own JVM."},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap daemon &                       # then vmsnap snapshot-list vm1 runs in it",
                "  vmsnap daemon --quiet                 # no line per command"})
public final class DaemonCommand implements Callable<Integer> {
    @Option(names = {"-q", "--quiet"}, description = "Print no line per command served (only start and errors).")
    boolean quiet;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        java.nio.file.Path home = DomainService.defaultHome();
        CliDaemon daemon;
        try {
            daemon = CliDaemon.start(home, line -> {
                if (!quiet) {
                    synchronized (err) {
                        err.println("vmsnap daemon: " + LocalTime.now().truncatedTo(ChronoUnit.MILLIS) + " " + line);
                        err.flush();
                    }
                }
            });
        } catch (IOException e) {
            throw new CliException(1, "cannot start the daemon: " + e.getMessage(), e);
        }
        UntilSignal stop = UntilSignal.closing("vmsnap-daemon-stop", daemon::close);
        err.println("vmsnap daemon: serving " + home + " on " + daemon.socket() + "; Ctrl-C stops");
        err.flush();
        stop.await();
        return 0;
    }
}
