package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.ImageInUseException;

/**
 * vmsnap's image locks against real QEMU 7.2 processes, both ways. QEMU is the oracle: the
 * lock bytes vmsnap takes are compared with the ones QEMU takes in /proc/locks, and the
 * refusals are QEMU's own. A missing qemu-img/qemu-io fails these tests (the process cannot
 * start), it never skips them.
 */
class ImageLockIT {

    private static final String WRITE_LOCK = "Failed to get \"write\" lock";
    private static final String SHARED_WRITE_LOCK = "Failed to get shared \"write\" lock";
    private static final long TIMEOUT_SECONDS = 30;

    @TempDir
    Path dir;
    private Path image;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void createImage() throws Exception {
        image = dir.resolve("disk.qcow2");
        Result created = run("qemu-img", "create", "-f", "qcow2", image.toString(), "16M");
        assertThat(created.exitCode()).as(created.output()).isZero();
    }

    @AfterEach
    void reapProcesses() throws InterruptedException {
        for (Process p : started) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
            }
        }
    }

    // ---- vmsnap takes the same bytes as QEMU ----

    @Test
    void readWriteOpenLocksTheBytesQemuLocks() throws Exception {
        Holder qemu = qemuIo(false);
        List<String> qemuLocks = lockedBytes(image);
        qemu.stop();
        assertThat(lockedBytes(image)).as("qemu-io released its locks").isEmpty();

        try (FileBlockStore store = FileBlockStore.open(image, false, false)) {
            assertThat(lockedBytes(image)).isEqualTo(qemuLocks).isNotEmpty();
            assertThat(store.isReadOnly()).isFalse();
        }
        assertThat(lockedBytes(image)).as("vmsnap released its locks").isEmpty();
    }

    @Test
    void readOnlyOpenLocksTheBytesQemuLocks() throws Exception {
        Holder qemu = qemuIo(true);
        List<String> qemuLocks = lockedBytes(image);
        qemu.stop();

        try (FileBlockStore store = FileBlockStore.open(image, true, false)) {
            assertThat(lockedBytes(image)).isEqualTo(qemuLocks).isNotEmpty();
            assertThat(store.isReadOnly()).isTrue();
        }
    }

    @Test
    void forceShareOpenLocksNothing() throws Exception {
        try (FileBlockStore store = FileBlockStore.open(image, true, true)) {
            assertThat(lockedBytes(image)).isEmpty();
            assertThat(store.size()).isPositive();
        }
    }

    // ---- vmsnap refuses what QEMU holds ----

    @Test
    void vmsnapRefusesImageQemuIoHoldsReadWrite() throws Exception {
        qemuIo(false);

        assertThatThrownBy(() -> FileBlockStore.open(image, false, false))
                .isInstanceOf(ImageInUseException.class)
                .hasMessage(image + ": " + WRITE_LOCK + ": is another process using the image (QEMU, qemu-img)?");
        assertThatThrownBy(() -> FileBlockStore.open(image, true, false))
                .as("a reader that does not share write, like qemu-img")
                .isInstanceOf(ImageInUseException.class)
                .hasMessageContaining(SHARED_WRITE_LOCK);
        try (FileBlockStore shared = FileBlockStore.open(image, true, true)) {
            assertThat(magic(shared)).isEqualTo("QFI\u00fb");
        }
    }

    @Test
    void vmsnapRefusesImageOfPausedQemuSystem() throws Exception {
        Holder qemu = start(line -> line.contains("\"QMP\""),
                "qemu-system-x86_64", "-nodefaults", "-display", "none", "-S", "-machine", "none",
                "-qmp", "stdio",
                "-blockdev", "driver=qcow2,node-name=disk0,file.driver=file,file.filename=" + image);

        assertThatThrownBy(() -> FileBlockStore.open(image, false, false))
                .isInstanceOf(ImageInUseException.class).hasMessageContaining(WRITE_LOCK);
        assertThatThrownBy(() -> FileBlockStore.open(image, true, false))
                .isInstanceOf(ImageInUseException.class).hasMessageContaining(SHARED_WRITE_LOCK);

        qemu.stop();
        try (FileBlockStore store = FileBlockStore.open(image, false, false)) {
            assertThat(store.isReadOnly()).isFalse();
        }
    }

    @Test
    void vmsnapReaderCoexistsWithQemuReaderButWriterDoesNot() throws Exception {
        qemuIo(true);

        try (FileBlockStore reader = FileBlockStore.open(image, true, false)) {
            assertThat(magic(reader)).isEqualTo("QFI\u00fb");
        }
        assertThatThrownBy(() -> FileBlockStore.open(image, false, false))
                .isInstanceOf(ImageInUseException.class).hasMessageContaining(WRITE_LOCK);
    }

    // ---- QEMU refuses what vmsnap holds ----

    @Test
    void qemuRefusesImageVmsnapHoldsForWriting() throws Exception {
        try (FileBlockStore store = FileBlockStore.open(image, false, false)) {
            Result info = run("qemu-img", "info", image.toString());
            assertThat(info.exitCode()).as(info.output()).isNotZero();
            assertThat(info.output()).contains(SHARED_WRITE_LOCK);

            Result write = run("qemu-io", "-f", "qcow2", "-c", "write 0 512", image.toString());
            assertThat(write.exitCode()).as(write.output()).isNotZero();
            assertThat(write.output()).contains(WRITE_LOCK);

            Result shared = run("qemu-img", "info", "-U", image.toString());
            assertThat(shared.exitCode()).as(shared.output()).isZero();
            assertThat(store.isReadOnly()).isFalse();
        }

        Result info = run("qemu-img", "info", image.toString());
        assertThat(info.exitCode()).as(info.output()).isZero();
        Result write = run("qemu-io", "-f", "qcow2", "-c", "write 0 512", image.toString());
        assertThat(write.exitCode()).as(write.output()).isZero();
        assertThat(write.output()).contains("wrote 512/512 bytes");
    }

    @Test
    void qemuReadsBesideVmsnapReaderButCannotWrite() throws Exception {
        try (FileBlockStore reader = FileBlockStore.open(image, true, false)) {
            Result info = run("qemu-img", "info", image.toString());
            assertThat(info.exitCode()).as(info.output()).isZero();

            Result read = run("qemu-io", "-r", "-f", "qcow2", "-c", "read 0 512", image.toString());
            assertThat(read.exitCode()).as(read.output()).isZero();

            Result write = run("qemu-io", "-f", "qcow2", "-c", "write 0 512", image.toString());
            assertThat(write.exitCode()).as(write.output()).isNotZero();
            assertThat(write.output()).contains(WRITE_LOCK);
            assertThat(reader.isReadOnly()).isTrue();
        }
    }

    // ---- helpers ----

    private static String magic(BlockStore store) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(4);
        store.read(0, buffer);
        return new String(buffer.array(), StandardCharsets.ISO_8859_1);
    }

    /** A qemu-io holding the image open; ready once it has answered a read. */
    private Holder qemuIo(boolean readOnly) throws Exception {
        List<String> command = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        if (readOnly) {
            command.add("-r");
        }
        command.add(image.toString());
        Holder holder = start(null, command.toArray(String[]::new));
        holder.send("read 0 512\n");
        holder.await(line -> line.contains("read 512/512 bytes"));
        return holder;
    }

    /** Starts a process reaped after the test; waits for a line matching ready unless null. */
    private Holder start(Predicate<String> ready, String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        started.add(process);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader reader = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process went away; await() reports the missing line
            }
        });
        Holder holder = new Holder(process, lines, String.join(" ", command));
        if (ready != null) {
            holder.await(ready);
        }
        return holder;
    }

    private record Holder(Process process, BlockingQueue<String> lines, String name) {
        void send(String text) throws IOException {
            OutputStream in = process.getOutputStream();
            in.write(text.getBytes(StandardCharsets.UTF_8));
            in.flush();
        }

        /** Waits for an output line that matches, failing with everything seen so far. */
        void await(Predicate<String> wanted) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            StringBuilder seen = new StringBuilder();
            while (System.nanoTime() < deadline) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null) {
                    seen.append(line).append('\n');
                    if (wanted.test(line)) {
                        return;
                    }
                } else if (!process.isAlive() && lines.isEmpty()) {
                    throw new AssertionError(name + " exited with " + process.exitValue() + ":\n" + seen);
                }
            }
            throw new AssertionError(name + " not ready after " + TIMEOUT_SECONDS + " s:\n" + seen);
        }

        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor();
            }
        }
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError(String.join(" ", command) + " did not finish:\n" + output);
            }
            return new Result(process.exitValue(), output);
        } finally {
            process.destroy();
            process.waitFor();
        }
    }

    private static final Pattern LOCK_LINE =
            Pattern.compile("^\\d+:\\s+(\\S+)\\s+\\S+\\s+(\\S+)\\s+\\S+\\s+[0-9a-f]+:[0-9a-f]+:(\\d+)\\s+(\\d+)\\s+(\\d+|EOF)$");

    /** The locks on the file as /proc/locks lists them: "OFDLCK READ 100", one per byte, sorted. */
    private static List<String> lockedBytes(Path file) throws IOException {
        long inode = (Long) Files.getAttribute(file, "unix:ino");
        TreeSet<String> locks = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
            Matcher m = LOCK_LINE.matcher(line.trim());
            if (!m.matches() || Long.parseLong(m.group(3)) != inode) {
                continue;
            }
            long start = Long.parseLong(m.group(4));
            long end = m.group(5).equals("EOF") ? start : Long.parseLong(m.group(5));
            for (long b = start; b <= end; b++) {
                locks.add(m.group(1) + " " + m.group(2) + " " + b);
            }
        }
        return new ArrayList<>(locks);
    }
}
