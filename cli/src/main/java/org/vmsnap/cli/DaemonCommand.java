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
                + " define and the verbs that read a file you name still run in their own JVM.",
                "When none runs, the launcher starts one by itself at the first short command (as virsh starts a"
                        + " session libvirtd), with --no-start --warm-up --idle-exit=600. VMSNAP_DAEMON=manual uses a running"
                        + " daemon but never starts one; VMSNAP_DAEMON=off runs every command in its own JVM.",
                "A command handed over runs to its end even if its client is interrupted; its output and exit code"
                        + " are the same as in its own JVM."},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap daemon &                       # then vmsnap snapshot-list vm1 runs in it",
                "  vmsnap daemon --quiet                 # no line per command",
                "  vmsnap daemon --idle-exit=600         # stops after 10 minutes without a command"})
public final class DaemonCommand implements Callable<Integer> {
    @Option(names = {"-q", "--quiet"}, description = "Print no line per command served (only start and errors).")
    boolean quiet;

    @Option(names = "--idle-exit", paramLabel = "SECONDS",
            description = "Stop after SECONDS without a command (0, the default: run until Ctrl-C). A command"
                    + " running then runs to its end first.")
    long idleExit;

    @Option(names = "--no-start",
            description = "Decline the commands that may start QEMU (start, and snapshot-revert with --running or"
                    + " --paused or to a snapshot with memory): they run in their own JVM, and QEMU gets the"
                    + " environment and folder of the command instead of the daemon's. The launcher starts its"
                    + " daemons so.")
    boolean noStart;

    @Option(names = "--warm-up",
            description = "At start, run the short img verbs a few dozen times on a scratch image of its own (in a"
                    + " temporary folder it then removes), so that the first commands it serves find them compiled."
                    + " The launcher starts its daemons so.")
    boolean warmUp;

    @Option(names = "--watch-sources", paramLabel = "DIR",
            description = "The checkout the jar was built from (the launcher passes its own folder): the daemon"
                    + " declines every command while a source there is newer than its jar, so the launcher hands it"
                    + " a command before checking the sources itself.")
    java.nio.file.Path watchSources;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (idleExit < 0) {
            throw new CliException(1, "--idle-exit: " + idleExit + " is negative; give SECONDS, or 0 for never");
        }
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
            }, !noStart, watchSources == null ? null : watchSources.toAbsolutePath().normalize());
        } catch (IOException e) {
            throw new CliException(1, "cannot start the daemon: " + e.getMessage(), e);
        }
        UntilSignal stop = UntilSignal.closing("vmsnap-daemon-stop", daemon::close);
        err.println("vmsnap daemon: serving " + home + " on " + daemon.socket() + "; Ctrl-C stops"
                + (idleExit > 0 ? ", as do " + idleExit + " s without a command" : ""));
        err.flush();
        if (warmUp) {
            daemon.warmUp();
        }
        if (idleExit > 0) {
            long limit = Math.multiplyExact(Math.min(idleExit, Long.MAX_VALUE / 1_000_000_000L), 1_000_000_000L);
            CliDaemon d = daemon;
            Thread.ofPlatform().name("vmsnap-daemon-idle").daemon().start(() -> {
                try {
                    String why;
                    while ((why = d.stopIfIdle(limit)) == null) {
                        Thread.sleep(250);
                    }
                    err.println("vmsnap daemon: stopping: " + why);
                    err.flush();
                    stop.end();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        stop.await();
        return 0;
    }
}
