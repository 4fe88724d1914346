package org.vmsnap.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The oracle: runs qemu-img (or qemu-io) and captures what it prints. A missing qemu-img
 * fails the test (it is installed by ./vmsnap-test), it never skips it.
 */
public final class QemuImg {

    private QemuImg() {
    }

    public static Cli.Run run(String... args) {
        return exec("qemu-img", null, args);
    }

    public static Cli.Run runIn(Path dir, String... args) {
        return exec("qemu-img", dir, args);
    }

    /** qemu-img that must succeed. */
    public static String ok(String... args) {
        Cli.Run r = run(args);
        if (r.exitCode() != 0) {
            throw new AssertionError("qemu-img " + String.join(" ", args) + " failed (" + r.exitCode() + "): " + r.err());
        }
        return r.out();
    }

    /** qemu-io on a qcow2 image, each command a -c; must succeed. */
    public static void io(Path image, String format, String... commands) {
        List<String> args = new ArrayList<>(List.of("-f", format));
        for (String c : commands) {
            args.add("-c");
            args.add(c);
        }
        args.add(image.toString());
        Cli.Run r = exec("qemu-io", null, args.toArray(String[]::new));
        if (r.exitCode() != 0 || r.out().contains("failed") || r.err().contains("failed")) {
            throw new AssertionError("qemu-io " + args + " failed: " + r.out() + r.err());
        }
    }

    private static Cli.Run exec(String tool, Path dir, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(tool);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().put("LC_ALL", "C");
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
            String out = read(p.getInputStream());
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(tool + " " + String.join(" ", args) + " did not finish");
            }
            return new Cli.Run(p.exitValue(), out, err.join());
        } catch (IOException e) {
            throw new AssertionError("cannot run " + tool + " (install qemu-utils): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static String read(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
