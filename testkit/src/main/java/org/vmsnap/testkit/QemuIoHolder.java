package org.vmsnap.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;


/**
 * An interactive {@code qemu-io} holding an image open read-write, as a running QEMU would (it
 * takes QEMU's locks on the file); ready once it has answered a read.
 */
public final class QemuIoHolder implements AutoCloseable {
    private static final long TIMEOUT_SECONDS = 30;
    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    /** Holds {@code image} read-write. */
    public QemuIoHolder(Path image, String format) throws IOException, InterruptedException {
        this(image, format, false);
    }

    /** Holds {@code image} read-only ({@code qemu-io -r}) or read-write. */
    public QemuIoHolder(Path image, String format, boolean readOnly) throws IOException, InterruptedException {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(QemuTools.qemuIo().toString(),
                "-f", format));
        if (readOnly) {
            cmd.add("-r");
        }
        cmd.add(image.toString());
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process went away; the wait below reports it
            }
        });
        OutputStream in = process.getOutputStream();
        in.write("read 0 512\n".getBytes(StandardCharsets.UTF_8));
        in.flush();
        StringBuilder seen = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null) {
                seen.append(line).append('\n');
                if (line.contains("read 512/512 bytes")) {
                    return;
                }
            } else if (!process.isAlive()) {
                break;
            }
        }
        close();
        throw new AssertionError("qemu-io " + image + " did not hold the image:\n" + seen);
    }

    /** Ends qemu-io and waits for it (its locks are gone afterwards). */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
