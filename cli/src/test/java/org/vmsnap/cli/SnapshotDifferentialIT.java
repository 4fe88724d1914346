package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmsnap img snapshot} and {@code convert -l} against qemu-img 7.2: the same table,
 * the same lookups, exit codes and messages, on snapshots either tool made; qemu-img check
 * judges every image vmsnap changed.
 */
class SnapshotDifferentialIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    private static void qemuChecksClean(String file) {
        Cli.Run c = QemuImg.run("check", file);
        assertThat(c.exitCode()).as("qemu-img check %s: %s %s", file, c.out(), c.err()).isZero();
    }

    private static Cli.Run vmsnap(String... args) {
        return Cli.run(Differential.prepend("img", args));
    }

    @Test
    void listAndInfoLikeQemuOnQemuSnapshots() throws IOException {
        String img = f("q.qcow2");
        QemuImg.ok("create", "-f", "qcow2", img, "16M");
        QemuImg.io(Path.of(img), "qcow2", "write -P 1 0 1M");
        QemuImg.ok("snapshot", "-c", "first", img);
        QemuImg.io(Path.of(img), "qcow2", "write -P 2 512k 1M");
        QemuImg.ok("snapshot", "-c", "a much longer snapshot name, é", img);
        QemuImg.ok("snapshot", "-c", "1", img);   // a name that is also an id
        assertSame("snapshot", "-l", img);
        assertSame("snapshot", "-U", "-l", img);
        assertSame("snapshot", img);               // no action: nothing printed, exit 0
        assertSame("info", img);
        assertSame("info", "--output=json", img);
        JsonNode ours = JSON.readTree(vmsnap("snapshot", "-l", "--output=json", img).out());
        JsonNode qemus = JSON.readTree(QemuImg.ok("info", "--output=json", img)).get("snapshots");
        assertThat(ours).isEqualTo(qemus);

        String empty = f("empty.qcow2");
        QemuImg.ok("create", "-f", "qcow2", empty, "1M");
        assertSame("snapshot", "-l", empty);
        assertThat(vmsnap("snapshot", "-l", "--output=json", empty).out()).isEqualTo("[]\n");
        String raw = f("r.raw");
        QemuImg.ok("create", "-f", "raw", raw, "1M");
        assertSame("snapshot", "-l", raw);
    }

    @Test
    void vmsnapSnapshotsAsQemuSeesThem() throws IOException {
        String img = f("v.qcow2");
        QemuImg.ok("create", "-f", "qcow2", img, "16M");
        QemuImg.io(Path.of(img), "qcow2", "write -P 1 0 1M");
        assertThat(vmsnap("snapshot", "-c", "first", img).exitCode()).isZero();
        QemuImg.io(Path.of(img), "qcow2", "write -P 2 512k 1M");
        Cli.Run second = vmsnap("snapshot", "-q", "-c", "second", img);
        assertThat(second.exitCode()).isZero();
        assertThat(second.out() + second.err()).isEmpty();
        QemuImg.io(Path.of(img), "qcow2", "write -P 3 0 64k");
        qemuChecksClean(img);
        assertSame("snapshot", "-l", img);
        assertSame("info", img);

        // convert -l: by name, by id, both keys, a bare id-or-name.
        for (String param : new String[] {"snapshot.name=first", "snapshot.id=2", "snapshot.id=1,snapshot.name=first",
                                          "second", "1"}) {
            String ours = f("ours.raw");
            String theirs = f("theirs.raw");
            Files.deleteIfExists(Path.of(ours));
            Files.deleteIfExists(Path.of(theirs));
            assertThat(vmsnap("convert", "-l", param, "-O", "raw", img, ours).exitCode()).as(param).isZero();
            QemuImg.ok("convert", "-l", param, "-O", "raw", img, theirs);
            assertThat(QemuImg.run("compare", "-f", "raw", "-F", "raw", ours, theirs).exitCode()).as(param).isZero();
        }
        Cli.Run missing = vmsnap("convert", "-l", "snapshot.name=nope", "-O", "raw", img, f("x.raw"));
        assertThat(missing.exitCode()).isEqualTo(QemuImg.run("convert", "-l", "snapshot.name=nope", "-O", "raw", img,
                f("y.raw")).exitCode());
        assertThat(missing.err()).isEqualTo("vmsnap: Failed to load snapshot: Can't find snapshot\n");

        // -a by id first, as qemu-img: the same outcome on two copies.
        Files.copy(Path.of(img), Path.of(f("copy.qcow2")));
        assertThat(vmsnap("snapshot", "-a", "1", img).exitCode()).isZero();
        QemuImg.ok("snapshot", "-a", "1", f("copy.qcow2"));
        assertThat(QemuImg.run("compare", img, f("copy.qcow2")).exitCode()).isZero();
        qemuChecksClean(img);
        assertThat(vmsnap("snapshot", "-a", "second", img).exitCode()).isZero();
        QemuImg.io(Path.of(img), "qcow2", "read -P 2 512k 1M");
        qemuChecksClean(img);

        // QEMU applies and deletes vmsnap's snapshots; vmsnap deletes its own.
        QemuImg.ok("snapshot", "-a", "first", img);
        QemuImg.io(Path.of(img), "qcow2", "read -P 1 0 1M");
        QemuImg.ok("snapshot", "-d", "first", img);
        qemuChecksClean(img);
        assertThat(vmsnap("snapshot", "-d", "second", img).exitCode()).isZero();
        qemuChecksClean(img);
        assertSame("snapshot", "-l", img);
    }

    @Test
    void errorsLikeQemu() throws IOException {
        String img = f("e.qcow2");
        QemuImg.ok("create", "-f", "qcow2", img, "4M");
        QemuImg.ok("snapshot", "-c", "first", img);
        QemuImg.ok("snapshot", "-c", "1", img);
        byte[] before = Files.readAllBytes(Path.of(img));
        assertSame("snapshot", "-a", "nope", img);
        assertSame("snapshot", "-d", "nope", img);
        assertSame("snapshot", "-l", "-c", "x", img);
        assertSame("snapshot", "-U", "-c", "x", img);
        assertSame("snapshot", "-l", f("missing.qcow2"));
        Cli.Run d = vmsnap("snapshot", "-d", "nope", img);
        assertThat(d.err()).isEqualTo("vmsnap: Could not delete snapshot 'nope': snapshot not found\n");
        Cli.Run a = vmsnap("snapshot", "-a", "nope", img);
        assertThat(a.err()).startsWith("vmsnap: Could not apply snapshot 'nope': ").contains(img);
        assertThat(Files.readAllBytes(Path.of(img))).as("failed commands change nothing").isEqualTo(before);

        // qemu-img -d looks up by name only: "1" is the snapshot named "1" (id 2), not id 1.
        String copy = f("copy.qcow2");
        Files.copy(Path.of(img), Path.of(copy));
        assertThat(vmsnap("snapshot", "-d", "1", img).exitCode()).isZero();
        QemuImg.ok("snapshot", "-d", "1", copy);
        assertThat(vmsnap("snapshot", "-l", img).out()).isEqualTo(QemuImg.ok("snapshot", "-l", copy));

        // Where vmsnap differs on purpose: a duplicate name is refused, an empty or too long one too.
        Cli.Run dup = vmsnap("snapshot", "-c", "first", img);
        assertThat(dup.exitCode()).isEqualTo(1);
        assertThat(dup.err()).contains("'first' already exists").endsWith("\n");
        assertThat(dup.err().lines()).hasSize(1);
        assertThat(vmsnap("snapshot", "-c", "", img).exitCode()).isEqualTo(1);
        assertThat(vmsnap("snapshot", "-c", "x".repeat(256), img).err()).contains("too long");
        assertThat(vmsnap("snapshot", "-c", "x".repeat(255), img).exitCode()).isZero();
        qemuChecksClean(img);
        assertSame("snapshot", "-l", img);

        String raw = f("r.raw");
        QemuImg.ok("create", "-f", "raw", raw, "1M");
        Cli.Run onRaw = vmsnap("snapshot", "-c", "x", raw);
        assertThat(onRaw.exitCode()).isEqualTo(QemuImg.run("snapshot", "-c", "x", raw).exitCode());
        assertThat(onRaw.err()).contains("Operation not supported");
    }

    @Test
    void demoTakesListsAppliesAndDeletesASnapshot() {
        Cli.Run demo = Cli.run("demo", "--dir", f("demo"));
        assertThat(demo.exitCode()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("$ vmsnap img snapshot -c before-edit")
                .contains("Snapshot list:").contains("before-edit")
                .contains("$ vmsnap img snapshot -a before-edit").contains("$ vmsnap img snapshot -d before-edit");
        assertThat(QemuImg.ok("snapshot", "-l", f("demo/disk.qcow2"))).as("deleted at the end").isEmpty();
        assertThat(QemuImg.run("compare", "-f", "raw", f("demo/source.raw"), f("demo/before-edit.raw")).out())
                .isEqualTo("Images are identical.\n");
        qemuChecksClean(f("demo/disk.qcow2"));
    }
}
