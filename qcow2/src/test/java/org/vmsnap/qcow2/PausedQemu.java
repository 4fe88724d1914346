package org.vmsnap.qcow2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.vmsnap.testkit.QemuTools;

/**
 * A paused {@code qemu-system-x86_64} (no guest, no CPU running, TCG) with one qcow2 disk,
 * driven over QMP by hand: enough for QEMU to write and load real VM-state snapshots
 * ({@code snapshot-save}/{@code snapshot-load}) into the image. The process is always reaped
 * by {@link #close}.
 */
final class PausedQemu implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long START_TIMEOUT_MS = 20_000;
    private static final long JOB_TIMEOUT_MS = 60_000;

    private final Process process;
    private final Path socket;
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private PausedQemu(Process process, Path socket, SocketChannel channel) {
        this.process = process;
        this.socket = socket;
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    /** Starts QEMU on {@code image} (node "d") with its QMP socket in {@code dir}. */
    static PausedQemu start(Path image, Path dir) throws IOException, InterruptedException {
        Path socket = dir.resolve("qmp-" + System.nanoTime() + ".sock");
        Path log = dir.resolve("qemu-" + System.nanoTime() + ".log");
        Process p = new ProcessBuilder(List.of(QemuTools.qemuSystem().toString(), "-nodefaults", "-display", "none",
                "-S", "-machine", "accel=tcg", "-qmp", "unix:" + socket + ",server=on,wait=off",
                "-blockdev", "driver=file,filename=" + image + ",node-name=f",
                "-blockdev", "driver=qcow2,file=f,node-name=d", "-device", "virtio-blk-pci,drive=d"))
                .redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (true) {
            if (!p.isAlive()) {
                throw new AssertionError("qemu-system-x86_64 exited with " + p.exitValue() + ": "
                        + Files.readString(log));
            }
            if (Files.exists(socket)) {
                try {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    PausedQemu q = new PausedQemu(p, socket, ch);
                    q.readReply(); // greeting
                    q.execute("qmp_capabilities", null);
                    return q;
                } catch (IOException e) {
                    // not listening yet
                }
            }
            if (System.currentTimeMillis() > deadline) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("qemu-system-x86_64 did not open its QMP socket: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** Runs one command; returns its "return" value, fails on an "error" reply. */
    JsonNode execute(String command, ObjectNode arguments) throws IOException {
        ObjectNode msg = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            msg.set("arguments", arguments);
        }
        out.write((JSON.writeValueAsString(msg) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        JsonNode reply = readReply();
        if (reply.has("error")) {
            throw new AssertionError("QMP " + command + " failed: " + reply.get("error"));
        }
        return reply.get("return");
    }

    /** The next line that is not an event (the reply to the last command, or the greeting). */
    private JsonNode readReply() throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("QMP connection closed");
            }
            JsonNode node = JSON.readTree(line);
            if (!node.has("event")) {
                return node;
            }
        }
    }

    /**
     * Runs a snapshot job ({@code snapshot-save} or {@code snapshot-load}) for tag on node
     * "d" and waits for it; returns the job's error, or null when it succeeded.
     */
    String snapshotJob(String command, String tag) throws IOException, InterruptedException {
        String id = "job" + System.nanoTime();
        ObjectNode args = JSON.createObjectNode().put("job-id", id).put("tag", tag).put("vmstate", "d");
        args.putArray("devices").add("d");
        execute(command, args);
        long deadline = System.currentTimeMillis() + JOB_TIMEOUT_MS;
        while (true) {
            for (JsonNode job : execute("query-jobs", null)) {
                if (id.equals(job.get("id").asText()) && "concluded".equals(job.get("status").asText())) {
                    execute("job-dismiss", JSON.createObjectNode().put("id", id));
                    return job.has("error") ? job.get("error").asText() : null;
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError(command + " " + tag + " did not conclude");
            }
            Thread.sleep(20);
        }
    }

    /** Quits QEMU and reaps it (killing it if it does not go). */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            execute("quit", null);
        } catch (IOException | AssertionError e) {
            // already gone: reaped below
        } finally {
            channel.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor();
            }
            Files.deleteIfExists(socket);
        }
    }
}
