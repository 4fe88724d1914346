package org.vmsnap.cli.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * The daemon in this process and the client against it: a command handed over prints and exits as
 * it does in its own JVM, names files relative to the client's folder, and a command the daemon
 * declines is left untouched for the client to run.
 */
class CliDaemonTest {
    @TempDir
    Path dir;
    Path home;
    Path elsewhere;
    CliDaemon daemon;
    final List<String> log = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void start() throws IOException {
        Cli.defineOneDiskVm(dir);
        home = dir.resolve("home");
        elsewhere = Files.createDirectories(dir.resolve("user's folder"));
        daemon = CliDaemon.start(home, log::add);
    }

    @AfterEach
    void stop() throws IOException {
        daemon.close();
        System.clearProperty("vmsnap.home");
    }

    record Answer(int code, String out, String err) {
        Cli.Run asRun() {
            return new Cli.Run(code, out, err);
        }
    }

    Answer forward(Path cwd, String home, String tz, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Forward.run(daemon.socket(), new ForwardProtocol.Request(cwd.toString(), home,
                Objects.requireNonNullElse(System.getenv("XDG_RUNTIME_DIR"), ""), tz, args), out, err);
        return new Answer(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    Answer forward(String... args) {
        return forward(elsewhere, home.toString(), Objects.requireNonNullElse(System.getenv("TZ"), ""), args);
    }

    @Test
    void aRelativeFileIsTheClientsNotTheDaemons() throws Exception {
        Answer a = forward("snapshot-create-as", "vm", "s1", "--disk-only", "--diskspec", "vda,file=over lay.qcow2");
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.out()).startsWith("Domain snapshot s1 created\n");
        assertThat(elsewhere.resolve("over lay.qcow2")).isRegularFile();
        assertThat(Path.of("over lay.qcow2")).as("nothing in the daemon's own folder").doesNotExist();
        assertThat(forward("domblklist", "vm").out()).contains(elsewhere.resolve("over lay.qcow2").toString());
        // The same relative name given to the command in this JVM would be this JVM's folder's.
        assertThat(Cli.run("domblklist", "vm").out()).isEqualTo(forward("domblklist", "vm").out());
        assertThat(log).anyMatch(l -> l.startsWith("snapshot-create-as: exit 0 in "));
    }

    /**
     * Commands a daemon serves, on domain vm (one snapshot) and its disk {@code image}: reads, a
     * missing domain and snapshot, a bad option, a revert. Each prints and exits as in its own JVM.
     */
    static List<List<String>> servedCommands(String image) {
        return List.of(List.of("list", "--all"), List.of("domstate", "vm", "--reason"),
                List.of("domstate", "nosuch"), List.of("snapshot-list", "vm", "--tree"),
                List.of("snapshot-info", "vm", "--current"), List.of("snapshot-delete", "vm", "nosuch"),
                List.of("snapshot-list", "vm", "--bogus"), List.of("img", "info", image),
                List.of("img", "snapshot", "-l", image), List.of("dumpxml", "vm"), List.of("snapshot-revert", "vm"));
    }

    @Test
    void outputAndExitCodesAreTheCommandsOwn() throws Exception {
        assertThat(forward("snapshot-create-as", "vm", "s1").code()).isZero();
        String image = dir.resolve("sys.qcow2").toString();
        for (List<String> c : servedCommands(image)) {
            String[] args = c.toArray(String[]::new);
            assertThat(forward(args).asRun()).as("%s", c).isEqualTo(Cli.run(args));
        }
        assertThat(forward("domstate", "nosuch").code()).isEqualTo(1);
        assertThat(forward("domstate", "nosuch").err()).isEqualTo("vmsnap: failed to get domain 'nosuch'\n");
    }

    @Test
    void aDeclinedCommandIsNotRunAndPrintsNothing() throws Exception {
        String tz = Objects.requireNonNullElse(System.getenv("TZ"), "");
        String image = dir.resolve("sys.qcow2").toString();
        List<Answer> declined = List.of(
                forward(elsewhere, dir.resolve("other").toString(), tz, "snapshot-create-as", "vm", "a"),
                forward(elsewhere, "", tz, "snapshot-create-as", "vm", "b"),
                forward(elsewhere, home.toString(), tz + "x", "snapshot-create-as", "vm", "c"),
                forward("img", "snapshot", "-c", "d", "sys.qcow2"),
                forward("define", dir.resolve("vm.xml").toString()),
                forward("snapshot-create-as vm e"),
                forward("snapshot-delete", "vm", "s", "--verbose"));
        assertThat(declined).allSatisfy(a -> assertThat(a).isEqualTo(new Answer(Forward.NOT_SERVED, "", "")));
        try (Qcow2Image img = Qcow2Image.open(dir.resolve("sys.qcow2"), org.vmsnap.qcow2.OpenOptions.readOnlyOpen())) {
            assertThat(img.snapshots()).isEmpty();
        }
        assertThat(Cli.run("snapshot-list", "vm", "--name").out()).isBlank();
        // A relative home is the client's folder's.
        Path rel = elsewhere.relativize(home);
        assertThat(forward(elsewhere, rel.toString(), tz, "domstate", "vm").out()).isEqualTo("shut off\n\n");
    }

    /** vmsnap snapshot-list vm | head -1: the pipe closes; the exit code is still the command's. */
    @Test
    void aClosedStdoutDropsTheOutputButKeepsTheExitCode() {
        java.io.OutputStream closed = new java.io.OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Forward.run(daemon.socket(), new ForwardProtocol.Request(elsewhere.toString(), home.toString(),
                Objects.requireNonNullElse(System.getenv("XDG_RUNTIME_DIR"), ""),
                Objects.requireNonNullElse(System.getenv("TZ"), ""), new String[] {"dumpxml", "vm"}), closed, err);
        assertThat(code).isZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void manyClientsAtOnceAndAStrangerDoNotStopIt() throws Exception {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(daemon.socket()))) {
            c.write(ByteBuffer.wrap("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        }
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(daemon.socket()))) {
            // connects and says nothing
        }
        String expected = Cli.run("snapshot-list", "vm").out();
        // The HTTP request is logged as bad; a connection that says nothing (a probe) is not.
        assertThat(forward("domstate", "vm").code()).isZero();
        assertThat(log).filteredOn(l -> l.startsWith("a bad request")).hasSize(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<Answer>> all = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                all.add(pool.submit(() -> forward("snapshot-list", "vm")));
            }
            for (Future<Answer> f : all) {
                assertThat(f.get()).isEqualTo(new Answer(0, expected, ""));
            }
        }
    }

    @Test
    void oneDaemonPerStateFolderAndItCleansUpOnlyWhatIsItsOwn() throws Exception {
        Path socket = daemon.socket();
        // The socket, the launcher's FIFO beside it, and this process's pid and start time.
        List<String> marker = Files.readAllLines(home.resolve(CliDaemon.MARKER));
        Path fifo = ShellClients.fifoBeside(socket);
        assertThat(marker).containsExactly(socket.toString(), fifo.toString(),
                ProcessHandle.current().pid() + " " + CliDaemon.startTime());
        assertThat(Files.getPosixFilePermissions(socket)).hasToString("[OWNER_READ, OWNER_WRITE]");
        assertThat(Files.getPosixFilePermissions(fifo)).hasToString("[OWNER_READ, OWNER_WRITE]");
        assertThatThrownBy(() -> CliDaemon.start(home, log::add)).isInstanceOf(IOException.class)
                .hasMessageContaining("a vmsnap daemon already serves " + home)
                .hasMessageEndingWith(", pid " + ProcessHandle.current().pid() + ": kill "
                        + ProcessHandle.current().pid() + " stops it)");
        daemon.close();
        assertThat(socket).doesNotExist();
        assertThat(fifo).doesNotExist();
        assertThat(home.resolve(CliDaemon.MARKER)).doesNotExist();
        assertThat(forward("domstate", "vm").code()).as("nobody listens").isEqualTo(Forward.NOT_SERVED);

        // A dead daemon's socket (bound, never removed) is replaced.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket));
        }
        assertThat(socket).exists();
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero(); // and its FIFO
        daemon = CliDaemon.start(home, log::add);
        assertThat(forward("domstate", "vm").out()).isEqualTo("shut off\n\n");
        // A marker that names another socket by now is not this daemon's to remove.
        Files.writeString(home.resolve(CliDaemon.MARKER), "/elsewhere.sock\n");
        daemon.close();
        assertThat(home.resolve(CliDaemon.MARKER)).hasContent("/elsewhere.sock");
        daemon = CliDaemon.start(home, log::add);
    }
    /**
     * The launcher's daemon (--no-start) declines what may start QEMU, which would get the
     * daemon's environment: a start, a revert with --running or --paused, a revert it cannot tell
     * (no such snapshot); a revert to a shut-off snapshot it serves. A manual daemon runs them all.
     */
    @Test
    void aDaemonThatStartsNoQemuLeavesStartAndRevertToTheClient() throws Exception {
        assertThat(forward("start", "nosuch").code()).as("a manual daemon runs it").isEqualTo(1);
        assertThat(forward("snapshot-create-as", "vm", "s1").code()).isZero();
        daemon.close();
        daemon = CliDaemon.start(home, log::add, false);
        for (String[] args : List.of(new String[] {"start", "vm"}, new String[] {"snapshot-revert", "vm", "s"},
                new String[] {"--debug", "start", "vm"}, new String[] {"snapshot-revert", "vm", "s1", "--running"},
                new String[] {"snapshot-revert", "--paused", "vm", "--current"},
                new String[] {"snapshot-revert", "nosuch", "s1"}, new String[] {"snapshot-revert", "vm", "--bogus"})) {
            assertThat(forward(args)).as("%s", List.of(args)).isEqualTo(new Answer(Forward.NOT_SERVED, "", ""));
        }
        assertThat(Cli.run("domstate", "vm").out()).as("nothing started").isEqualTo("shut off\n\n");
        // Served, and printed as in its own JVM.
        assertThat(forward("snapshot-revert", "vm", "s1").asRun()).isEqualTo(Cli.run("snapshot-revert", "vm", "s1"))
                .extracting(Cli.Run::exitCode).isEqualTo(0);
        assertThat(forward("--debug", "snapshot-revert", "vm", "--current").code()).isZero();
        assertThat(log).anyMatch(l -> l.startsWith("snapshot-revert: exit 0 in "));
        assertThat(forward("domstate", "vm").out()).isEqualTo("shut off\n\n");
    }

    /**
     * An idle daemon stops (the caller then closes it) once no command ran for the given time, never
     * while one runs, and declines what comes after it decided; declined requests do not keep it.
     */
    @Test
    void anIdleDaemonStopsOnlyBetweenCommands() throws Exception {
        assertThat(daemon.stopIfIdle(java.util.concurrent.TimeUnit.HOURS.toNanos(1))).isNull();
        // A command that holds the domain's lock while the idle check runs: the daemon waits for it.
        java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                daemon.answer(new ForwardProtocol.Request(elsewhere.toString(), home.toString(), "", "",
                        new String[] {"domstate", "vm"}), null, new HeldAnswer(inside, release));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertThat(inside.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(daemon.stopIfIdle(0)).as("a command runs").isNull();
        release.countDown();
        t.join(30_000);
        assertThat(daemon.stopIfIdle(java.util.concurrent.TimeUnit.HOURS.toNanos(1))).as("it just ran one").isNull();
        Thread.sleep(300);
        assertThat(forward(elsewhere, dir.resolve("other").toString(), "", "domstate", "vm").code())
                .as("declined").isEqualTo(Forward.NOT_SERVED);
        assertThat(daemon.stopIfIdle(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(200)))
                .as("300 ms after the command, whatever it declined since").isEqualTo("no command for 0 s");
        assertThat(forward("domstate", "vm")).as("after it decided").isEqualTo(new Answer(Forward.NOT_SERVED, "", ""));
        assertThat(daemon.stopIfIdle(0)).as("once").isNull();
    }

    /** An answer whose accept waits until released, so a test can look at a daemon inside a command. */
    private record HeldAnswer(java.util.concurrent.CountDownLatch inside, java.util.concurrent.CountDownLatch release)
            implements CliDaemon.Answer {
        @Override
        public void declined(String why) {
            throw new AssertionError("declined: " + why);
        }

        @Override
        public boolean accepted() {
            inside.countDown();
            try {
                return release.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        @Override
        public void output(byte type, byte[] b, int off, int len) {
        }

        @Override
        public void exit(int code) {
        }
    }
}
