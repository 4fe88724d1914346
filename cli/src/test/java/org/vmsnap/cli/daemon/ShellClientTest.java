package org.vmsnap.cli.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;

/**
 * The launcher's own client of the daemon (bash and a FIFO, {@link ShellClients}), run as a user
 * runs it: the real ./vmsnap script in a small tree whose java only logs, against a daemon in this
 * JVM. A command the daemon takes starts no java at all and prints and exits exactly as the
 * command in its own JVM; a command it declines, or a daemon that is gone or silent, ends in the
 * launcher's own JVM (the stand-in's log line), never twice and never in a hang.
 */
class ShellClientTest {
    @TempDir
    Path dir;
    Path home;
    Path root;
    Path javaLog;
    Path user;
    CliDaemon daemon;
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    final Map<String, String> env = new HashMap<>();

    @BeforeEach
    void start() throws IOException {
        Cli.defineOneDiskVm(dir);
        home = dir.resolve("home");
        user = Files.createDirectories(dir.resolve("user's -folder"));
        root = dir.resolve("tree");
        Path repo = Path.of("").toAbsolutePath().getParent(); // surefire runs in cli/
        copy(repo.resolve("vmsnap"), root.resolve("vmsnap"));
        copy(repo.resolve("scripts/env.sh"), root.resolve("scripts/env.sh"));
        javaLog = Files.createFile(dir.resolve("java.log"));
        Path java = root.resolve("jdk/bin/java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, "#!/bin/sh\necho \"java $*\" >> \"$JAVA_LOG\"\nexit 99\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.copy(java, java.resolveSibling("javac"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.writeString(root.resolve("jdk/release"), "IMPLEMENTOR=\"test\"\nJAVA_VERSION=\"25.0.3\"\n");
        Instant old = Instant.now().minusSeconds(300);
        for (String f : List.of("pom.xml", "cli/pom.xml", "cli/src/main/java/A.java")) {
            Files.createDirectories(root.resolve(f).getParent());
            Files.writeString(root.resolve(f), "");
        }
        for (String f : List.of("pom.xml", "cli/pom.xml", "cli/src/main/java/A.java", "cli/src/main/java", "cli/src/main",
                "cli/src", "cli", "")) {
            Files.setLastModifiedTime(root.resolve(f), FileTime.from(old));
        }
        Files.createDirectories(root.resolve("cli/target"));
        Files.writeString(root.resolve("cli/target/vmsnap.jar"), "");
        Files.setLastModifiedTime(root.resolve("cli/target/vmsnap.jar"), FileTime.from(old.plusSeconds(100)));
        Files.writeString(root.resolve("cli/target/vmsnap.aot"), "");
        env.put("VMSNAP_JAVA_HOME", root.resolve("jdk").toString());
        env.put("JAVA_HOME", root.resolve("jdk").toString());
        env.put("JAVA_LOG", javaLog.toString());
        env.put("VMSNAP_HOME", home.toString());
        // Use a daemon, never start one (LauncherTest covers that): a dead or silent daemon here
        // must leave the command to the launcher alone.
        env.put("VMSNAP_DAEMON", "manual");
        daemon = CliDaemon.start(home, log::add);
    }

    @AfterEach
    void stop() throws IOException {
        daemon.close();
        System.clearProperty("vmsnap.home");
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** ./vmsnap ARGS in the user's folder, through bash -c SHELL when not null ("$@" are ./vmsnap and ARGS). */
    Cli.Run inShell(String shell, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (shell == null) {
            cmd.add(root.resolve("vmsnap").toString());
        } else {
            cmd.addAll(List.of("bash", "-c", shell, "sh", root.resolve("vmsnap").toString()));
        }
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(user.toFile());
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        try (ExecutorService io = Executors.newFixedThreadPool(2)) {
            Future<byte[]> out = io.submit(() -> p.getInputStream().readAllBytes());
            Future<byte[]> err = io.submit(() -> p.getErrorStream().readAllBytes());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the launcher ended").isTrue();
            return new Cli.Run(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8),
                    new String(err.get(), StandardCharsets.UTF_8));
        }
    }

    Cli.Run launcher(String... args) throws Exception {
        return inShell(null, args);
    }

    List<String> javaRuns() throws IOException {
        return Files.readAllLines(javaLog);
    }

    List<String> replies() throws IOException {
        try (var s = Files.list(ShellClients.fifoBeside(daemon.socket()).getParent())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".reply.")).toList();
        }
    }

    @Test
    void aTakenCommandStartsNoJavaAndPrintsAndExitsAsItsOwnJvm() throws Exception {
        assertThat(launcher("snapshot-create-as", "vm", "s1").exitCode()).isZero();
        String image = dir.resolve("sys.qcow2").toString();
        List<List<String>> commands = new ArrayList<>(CliDaemonTest.servedCommands(image));
        commands.add(List.of("img", "snapshot", "-l", "--output=json", image));
        for (List<String> c : commands) {
            String[] args = c.toArray(String[]::new);
            Cli.Run mine = launcher(args);
            Cli.Run own = Cli.run(args);
            assertThat(mine).as("%s", c).isEqualTo(own);
        }
        // A write: taken once, then refused as its own JVM refuses it.
        assertThat(launcher("img", "snapshot", "-c", "-odd name", image)).isEqualTo(new Cli.Run(0, "", ""));
        assertThat(launcher("img", "snapshot", "-l", image).out()).contains("-odd name");
        Cli.Run again = Cli.run("img", "snapshot", "-c", "-odd name", image);
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(launcher("img", "snapshot", "-c", "-odd name", image)).isEqualTo(new Cli.Run(1, "", again.err()));
        assertThat(javaRuns()).as("no JVM was started").isEmpty();
        assertThat(replies()).as("no reply FIFO is left").isEmpty();
        waitForLog("img snapshot: exit 0 in ");
    }

    @Test
    void oddNamesAndARelativeFileAreTheUsersOwn() throws Exception {
        String name = "s 1 'quoted' \"twice\" ünï $HOME `x` \\";
        Cli.Run r = launcher("snapshot-create-as", "vm", name, "--disk-only", "--diskspec", "vda,file=-new over lay.qcow2");
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).isEqualTo("Domain snapshot " + name + " created\n");
        assertThat(user.resolve("-new over lay.qcow2")).isRegularFile();
        assertThat(launcher("snapshot-list", "vm", "--name").out()).isEqualTo(name + "\n\n");
        assertThat(javaRuns()).isEmpty();
    }

    @Test
    void aDeclinedCommandRunsInTheLaunchersJvmOnce() throws Exception {
        env.put("TZ", Objects.requireNonNullElse(System.getenv("TZ"), "") + "UTC");
        Cli.Run r = launcher("snapshot-create-as", "vm", "a");
        assertThat(r.exitCode()).as("the stand-in java's code; %s", r).isEqualTo(99);
        assertThat(r.out()).isEmpty();
        assertThat(javaRuns()).singleElement().asString().endsWith(" -jar " + root.resolve("cli/target/vmsnap.jar")
                + " snapshot-create-as vm a");
        assertThat(Cli.run("snapshot-list", "vm", "--name").out()).isBlank();
        assertThat(replies()).isEmpty();
        // Not a daemon command at all: asked of nobody.
        assertThat(launcher("img", "snapshot", "-c", "s", "rel.qcow2").exitCode()).isEqualTo(99);
        assertThat(logged()).noneMatch(l -> l.contains("exit"));
    }

    /**
     * A daemon that watches the launcher's checkout (--watch-sources, as the launcher starts its own)
     * is asked before the launcher looks at the sources. While a source is newer than the jar it
     * declines: the launcher then builds and runs the command in its own JVM, once, without asking
     * again; once the jar is newer again the daemon takes the commands again.
     */
    @Test
    void aDaemonWatchingTheSourcesDeclinesWhileOneIsNewerThanTheJar() throws Exception {
        daemon.close();
        daemon = CliDaemon.start(home, log::add, true, root);
        assertThat(Files.readAllLines(home.resolve(CliDaemon.MARKER))).hasSize(4).last().isEqualTo(root.toString());
        Path mvn = Files.createDirectories(dir.resolve("bin")).resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\necho \"mvn $*\" >> \"$JAVA_LOG\"\ntouch cli/target/vmsnap.jar\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
        env.put("PATH", mvn.getParent() + ":" + System.getenv("PATH"));
        Path jar = root.resolve("cli/target/vmsnap.jar");

        assertThat(launcher("snapshot-create-as", "vm", "a").exitCode()).isZero();
        assertThat(javaRuns()).isEmpty();

        Files.writeString(root.resolve("cli/src/main/java/A.java"), "class A {}");
        assertThat(launcher("snapshot-create-as", "vm", "b").exitCode()).as("the stand-in java's code").isEqualTo(99);
        assertThat(javaRuns()).filteredOn(l -> l.startsWith("mvn ")).hasSize(1);
        assertThat(javaRuns()).filteredOn(l -> l.contains("snapshot-create-as")).singleElement().asString()
                .endsWith(" -jar " + jar + " snapshot-create-as vm b");
        assertThat(Cli.run("snapshot-list", "vm", "--name").out()).isEqualTo("a\n\n");

        // Built: the jar is the newest again, and the daemon takes the next command.
        int before = javaRuns().size();
        assertThat(launcher("snapshot-create-as", "vm", "c").exitCode()).isZero();
        assertThat(javaRuns()).hasSize(before);

        // A file added in a new folder, a module's pom: declined again, each time.
        Files.writeString(Files.createDirectories(root.resolve("cli/src/main/java/p")).resolve("B.java"), "");
        assertThat(launcher("snapshot-create-as", "vm", "d").exitCode()).isEqualTo(99);
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now().plusSeconds(5)));
        assertThat(launcher("snapshot-create-as", "vm", "e").exitCode()).isZero();
        Files.setLastModifiedTime(root.resolve("cli/pom.xml"), FileTime.from(Instant.now().plusSeconds(10)));
        assertThat(launcher("snapshot-create-as", "vm", "f").exitCode()).isEqualTo(99);
        assertThat(Cli.run("snapshot-list", "vm", "--name").out()).isEqualTo("a\nc\ne\n\n");
    }

    @Test
    void aClosedStdoutDropsTheOutputAndKeepsTheExitCode() throws Exception {
        Cli.Run r = inShell("\"$@\" | head -c 5; echo \" ${PIPESTATUS[0]}\"", "dumpxml", "vm");
        assertThat(r.out()).isEqualTo("<doma 0\n");
        assertThat(r.err()).isEmpty();
        r = inShell("\"$@\" | head -c 0; echo \"${PIPESTATUS[0]}\"", "domstate", "nosuch");
        assertThat(r.out()).isEqualTo("1\n");
        assertThat(r.err()).isEqualTo("vmsnap: failed to get domain 'nosuch'\n");
        assertThat(javaRuns()).isEmpty();
    }

    @Test
    void manyLaunchersAtOnce() throws Exception {
        String expected = Cli.run("snapshot-list", "vm").out();
        try (ExecutorService pool = Executors.newFixedThreadPool(6)) {
            List<Future<Cli.Run>> all = new ArrayList<>();
            for (int i = 0; i < 18; i++) {
                all.add(pool.submit(() -> launcher("snapshot-list", "vm")));
            }
            for (Future<Cli.Run> f : all) {
                assertThat(f.get()).as("daemon log %s", logged()).isEqualTo(new Cli.Run(0, expected, ""));
            }
        }
        assertThat(javaRuns()).isEmpty();
    }

    /**
     * What a daemon killed with -9 leaves: its .daemon, naming its socket, its FIFO (made again) and
     * {@code pidLine} ("pid start-time"; null: the marker is left as it was). Returns the FIFO.
     */
    private Path killedDaemon(String pidLine) throws Exception {
        Path fifo = ShellClients.fifoBeside(daemon.socket());
        if (Files.exists(home.resolve(CliDaemon.MARKER))) {
            daemon.close(); // removes the marker and the FIFO, which -9 would leave
            new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
        }
        if (pidLine != null) {
            Files.writeString(home.resolve(CliDaemon.MARKER), daemon.socket() + "\n" + fifo + "\n" + pidLine + "\n");
        }
        return fifo;
    }

    /** A daemon killed with -9 leaves its .daemon, socket and FIFO; its pid is gone or another's. */
    @Test
    void aDeadDaemonsCommandRunsHere() throws Exception {
        // This JVM's pid with another start time: a process that got the dead daemon's pid.
        Path fifo = killedDaemon(ProcessHandle.current().pid() + " 1");
        long t0 = System.nanoTime();
        assertThat(launcher("domstate", "vm").exitCode()).isEqualTo(99);
        assertThat(javaRuns()).singleElement().asString().endsWith(" domstate vm");
        assertThat((System.nanoTime() - t0) / 1_000_000).as("ms, no wait for a dead daemon").isLessThan(5_000);
        assertThat(replies()).isEmpty();
        Files.delete(fifo);
        daemon = CliDaemon.start(home, log::add);
    }

    /**
     * A killed daemon that watched the sources (the launcher's own) is not asked first: its command
     * runs here, and the launcher starts another daemon for the next ones, as for any dead daemon.
     */
    @Test
    void aDeadWatchingDaemonIsReplaced() throws Exception {
        Path fifo = killedDaemon(ProcessHandle.current().pid() + " 1");
        Path marker = home.resolve(CliDaemon.MARKER);
        Files.writeString(marker, Files.readString(marker) + root + "\n");
        env.remove("VMSNAP_DAEMON");
        assertThat(launcher("domstate", "vm").exitCode()).isEqualTo(99);
        String spawned = " daemon --quiet --no-start --warm-up --idle-exit=600 --watch-sources=" + root;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (javaRuns().stream().noneMatch(l -> l.endsWith(spawned)) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertThat(javaRuns()).hasSize(2).anySatisfy(l -> assertThat(l).endsWith(" domstate vm"))
                .anySatisfy(l -> assertThat(l).endsWith(spawned));
        assertThat(replies()).isEmpty();
        Files.delete(fifo);
        daemon = CliDaemon.start(home, log::add);
    }

    /**
     * A daemon killed with -9 whose parent has not reaped it yet (pid 1 for the launcher's own
     * daemon, which may take its time): a zombie with the daemon's pid and start time is not a
     * daemon, and the command runs here at once, not after the 5 s a silent daemon gets.
     */
    @Test
    void aZombieDaemonsCommandRunsHereAtOnce() throws Exception {
        Path fifo = killedDaemon(null);
        // A child that exits under a parent that never waits for it: bash has exec'd into sleep by
        // the time the child ends (bash itself would reap it).
        Process parent = new ProcessBuilder("bash", "-c", "sleep 0.3 & echo $!; exec sleep 60").start();
        try {
            String pid = new java.io.BufferedReader(new java.io.InputStreamReader(parent.getInputStream())).readLine();
            String[] f = new String[0];
            for (int i = 0; i < 100; i++) {
                String stat = Files.readString(Path.of("/proc", pid, "stat"));
                f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                if (f[0].equals("Z")) {
                    break;
                }
                Thread.sleep(50);
            }
            assertThat(f[0]).as("a zombie").isEqualTo("Z");
            killedDaemon(pid + " " + f[22 - 3]);
            long t0 = System.nanoTime();
            assertThat(launcher("domstate", "vm").exitCode()).isEqualTo(99);
            assertThat((System.nanoTime() - t0) / 1_000_000).as("ms, no wait for a zombie").isLessThan(3_000);
            assertThat(javaRuns()).singleElement().asString().endsWith(" domstate vm");
            assertThat(replies()).isEmpty();
        } finally {
            parent.destroyForcibly();
            Files.delete(fifo);
        }
        daemon = CliDaemon.start(home, log::add);
    }

    /**
     * A daemon that lives but never reads its FIFO (stopped, say): the client takes its command back
     * after 5 s by removing its reply FIFO, and runs it here, once.
     */
    @Test
    void aSilentDaemonsCommandRunsHereAfterAWhile() throws Exception {
        List<String> marker = Files.readAllLines(home.resolve(CliDaemon.MARKER));
        Path fifo = Path.of(marker.get(1));
        Path silent = fifo.resolveSibling("silent-" + fifo.getFileName());
        new ProcessBuilder("mkfifo", silent.toString()).start().waitFor();
        try {
            Files.writeString(home.resolve(CliDaemon.MARKER), marker.get(0) + "\n" + silent + "\n" + marker.get(2) + "\n");
            assertThat(launcher("domstate", "vm").exitCode()).isEqualTo(99);
            assertThat(javaRuns()).singleElement().asString().endsWith(" domstate vm");
            assertThat(replies()).isEmpty();
        } finally {
            Files.delete(silent);
            Files.writeString(home.resolve(CliDaemon.MARKER), String.join("\n", marker) + "\n");
        }
    }

    /**
     * A daemon that took the command (renamed the reply FIFO, answered A) and died before its exit
     * code: the client says so and exits 1; it never runs the command again.
     */
    @Test
    void aDaemonLostAfterTakingTheCommandIsReported() throws Exception {
        List<String> marker = Files.readAllLines(home.resolve(CliDaemon.MARKER));
        Path fifo = Path.of(marker.get(1));
        Path fake = fifo.resolveSibling("fake.fifo");
        new ProcessBuilder("mkfifo", fake.toString()).start().waitFor();
        Files.writeString(home.resolve(CliDaemon.MARKER), marker.get(0) + "\n" + fake + "\n" + marker.get(2) + "\n");
        try (ExecutorService one = Executors.newSingleThreadExecutor()) {
            Future<Void> dying = one.submit(() -> {
                try (FileChannel requests = FileChannel.open(fake, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    String line = new java.io.BufferedReader(new java.io.InputStreamReader(
                            java.nio.channels.Channels.newInputStream(requests), StandardCharsets.UTF_8)).readLine();
                    Path reply = Path.of(line);
                    Path req = reply.resolveSibling(reply.getFileName() + ".req");
                    List<String> fields;
                    try (InputStream in = Files.newInputStream(req)) {
                        fields = ShellClients.readRequest(in);
                    }
                    Files.delete(req);
                    assertThat(fields.getFirst()).isEqualTo(line);
                    assertThat(fields.subList(5, fields.size())).containsExactly("domstate", "vm");
                    assertThat(reply.getFileName().toString()).startsWith("fake.reply.");
                    Path taken = reply.resolveSibling(reply.getFileName() + ".taken");
                    Files.move(reply, taken, StandardCopyOption.ATOMIC_MOVE);
                    try (FileChannel out = FileChannel.open(taken, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                        Files.delete(taken);
                        out.write(ByteBuffer.wrap("A00000000000O00000000003hal".getBytes(StandardCharsets.US_ASCII)));
                    }
                }
                return null;
            });
            Cli.Run r = launcher("domstate", "vm");
            dying.get(30, TimeUnit.SECONDS);
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.out()).isEqualTo("hal");
            assertThat(r.err()).startsWith("vmsnap: lost the daemon during the command (the connection ended before the"
                    + " command's exit code); it may have taken effect");
        } finally {
            Files.delete(fake);
            Files.writeString(home.resolve(CliDaemon.MARKER), String.join("\n", marker) + "\n");
        }
        assertThat(javaRuns()).isEmpty();
    }

    /** What only this user can write still gets checked: a bad request is logged and dropped. */
    @Test
    void aBadRequestIsDroppedAndTheNextOneServed() throws Exception {
        Path fifo = Path.of(Files.readAllLines(home.resolve(CliDaemon.MARKER)).get(1));
        String key = fifo.getFileName().toString().replace(".fifo", "");
        Path noRequest = fifo.resolveSibling(key + ".reply.1.2");
        assertThat(new ProcessBuilder("mkfifo", noRequest.toString()).start().waitFor()).isZero();
        try {
            try (FileChannel w = FileChannel.open(fifo, StandardOpenOption.WRITE)) {
                w.write(ByteBuffer.wrap(("GET / HTTP/1.0\n/tmp\n" + noRequest + "\n" + "x".repeat(5000) + "\n")
                        .getBytes(StandardCharsets.US_ASCII)));
            }
            // Each line is served on a thread of its own: the log lines come in any order.
            waitForLog("a bad request on " + fifo + ": a line longer than 4096 bytes");
            waitForLog("a request with a bad reply FIFO: GET / HTTP/1.0");
            waitForLog("a request with a bad reply FIFO: /tmp");
            waitForLog("a bad request " + noRequest + ".req: ");
            assertThat(launcher("domstate", "vm")).isEqualTo(new Cli.Run(0, "shut off\n\n", ""));
            waitForLog("domstate: exit 0 in "); // logged after the client has its answer
            assertThat(logged()).filteredOn(l -> l.contains("exit")).hasSize(1);
        } finally {
            Files.deleteIfExists(noRequest);
        }
    }

    private void waitForLog(String prefix) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (logged().stream().noneMatch(l -> l.startsWith(prefix)) && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertThat(logged()).anyMatch(l -> l.startsWith(prefix));
    }

    /** The daemon's log so far (its threads add to it: a synchronized copy). */
    private List<String> logged() {
        return List.copyOf(log);
    }

    @Test
    void theRequestFormatIsParsedByLengths() throws Exception {
        byte[] req = "vmsnap 1 5\n3\na\nb\n0\n\n1\n\n\n0\n\n2\nü\n".getBytes(StandardCharsets.UTF_8);
        InputStream in = new java.io.ByteArrayInputStream(req);
        assertThat(ShellClients.readRequest(in)).containsExactly("a\nb", "", "\n", "", "ü");
        for (String bad : List.of("vmsnap 2 5\n", "vmsnap 1 4\n", "vmsnap 1 99999999\n", "vmsnap 1 5\n3\nabcd\n",
                "vmsnap 1 5\n-1\n", "vmsnap 1 5\n2\na")) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ShellClients.readRequest(
                    new java.io.ByteArrayInputStream(bad.getBytes(StandardCharsets.UTF_8)))).as(bad)
                    .isInstanceOf(IOException.class);
        }
    }
}
