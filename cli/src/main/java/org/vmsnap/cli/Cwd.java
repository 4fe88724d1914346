package org.vmsnap.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * The folder a command's relative file names are relative to. A command run in this process
 * resolves them against the process's own folder, as always; a command the daemon runs for a
 * client ({@link org.vmsnap.cli.daemon.CliDaemon}) resolves them against the client's folder,
 * which the JVM cannot change to. Every file name a forwarded verb takes from its arguments goes
 * through {@link #path}: a name resolved against the daemon's folder instead would put a user's
 * file in the wrong place (DaemonRulesTest fails when a virsh command source bypasses it).
 */
public final class Cwd {
    private static final ScopedValue<Path> BASE = ScopedValue.newInstance();

    private Cwd() {
    }

    /** A file name from the command line: absolute in a forwarded command, as given otherwise. */
    public static Path path(String name) {
        Path p = Path.of(name);
        return BASE.isBound() ? BASE.get().resolve(p) : p;
    }

    /** Runs {@code task} with relative names resolved against {@code folder} (absolute). */
    public static <T> T in(Path folder, Callable<T> task) throws Exception {
        if (!folder.isAbsolute()) {
            throw new IllegalArgumentException("not an absolute folder: " + folder);
        }
        return ScopedValue.where(BASE, folder).call(task::call);
    }
}
