package org.vmsnap.qcow2.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.SoftAssertions;
import org.vmsnap.qcow2.CheckResult;

/**
 * Runs QEMU's own tools as the oracle. A missing qemu-img fails the calling test (the
 * process cannot start); it never skips it.
 */
final class Qemu {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Qemu() {
    }

    record Run(List<String> command, int exit, String stdout, String stderr) {
        /** stderr lines without qemu-img's own "qemu-img: ..." error reports. */
        List<String> findings() {
            return stderr.lines().filter(l -> !l.startsWith("qemu-img: ") && !l.isBlank()).toList();
        }

        Run ok() {
            if (exit != 0) {
                throw new AssertionError(command + " exited " + exit + ": " + stderr + stdout);
            }
            return this;
        }
    }

    static Run run(String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("qemu-out", ".txt");
        Path err = Files.createTempFile("qemu-err", ".txt");
        try {
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(Arrays.toString(command) + " did not finish in 120 s");
            }
            return new Run(List.of(command), p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    static Run img(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("qemu-img");
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new));
    }

    /** qemu-io on a qcow2 image, one -c per command. */
    static Run io(Path image, String... commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        Run r = run(cmd.toArray(String[]::new));
        if (r.exit != 0 || r.stdout.contains("failed") || r.stderr.contains("failed")) {
            throw new AssertionError(cmd + " failed: " + r.stdout + r.stderr);
        }
        return r;
    }

    /** {@code qemu-img check --output=json [-r mode]}: the JSON report and the stderr findings. */
    record Check(int exit, JsonNode json, List<String> findings) {
        long get(String field) {
            JsonNode n = json == null ? null : json.get(field);
            return n == null ? 0 : n.asLong();
        }
    }

    static Check check(Path image, String repair) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("check", "-f", "qcow2", "--output=json"));
        if (repair != null) {
            args.add("-r");
            args.add(repair);
        }
        args.add(image.toString());
        Run r = img(args.toArray(String[]::new));
        JsonNode json = r.stdout.isBlank() ? null : JSON.readTree(r.stdout);
        return new Check(r.exit, json, r.findings());
    }

    /** Our result must say what qemu-img says: exit code, every count, every line. */
    static void assertSameAsQemu(String what, CheckResult ours, Check qemu, boolean layout) {
        SoftAssertions soft = new SoftAssertions();
        soft.assertThat(ours.exitCode()).as(what + " exit code").isEqualTo(qemu.exit());
        soft.assertThat(ours.messages()).as(what + " messages").containsExactlyElementsOf(qemu.findings());
        if (qemu.json() != null) {
            soft.assertThat(ours.corruptions()).as(what + " corruptions").isEqualTo(qemu.get("corruptions"));
            soft.assertThat(ours.leaks()).as(what + " leaks").isEqualTo(qemu.get("leaks"));
            soft.assertThat(ours.checkErrors()).as(what + " check errors").isEqualTo(qemu.get("check-errors"));
            soft.assertThat(ours.corruptionsFixed()).as(what + " corruptions fixed")
                    .isEqualTo(qemu.get("corruptions-fixed"));
            soft.assertThat(ours.leaksFixed()).as(what + " leaks fixed").isEqualTo(qemu.get("leaks-fixed"));
            soft.assertThat(ours.totalClusters()).as(what + " total").isEqualTo(qemu.get("total-clusters"));
            soft.assertThat(ours.allocatedClusters()).as(what + " allocated").isEqualTo(qemu.get("allocated-clusters"));
            soft.assertThat(ours.fragmentedClusters()).as(what + " fragmented")
                    .isEqualTo(qemu.get("fragmented-clusters"));
            soft.assertThat(ours.compressedClusters()).as(what + " compressed")
                    .isEqualTo(qemu.get("compressed-clusters"));
            if (layout) {
                soft.assertThat(ours.imageEndOffsetBytes()).as(what + " image end offset")
                        .isEqualTo(qemu.get("image-end-offset"));
            }
        }
        soft.assertAll();
    }

}
