package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuImgTest {

    @TempDir
    Path dir;

    @Test
    void createAndInfo() {
        Path img = dir.resolve("a.qcow2");
        QemuImg.create(img, "qcow2", 3L << 30, "compat=0.10", "cluster_size=4096");
        JsonNode info = QemuImg.infoJson(img);
        assertThat(info.get("virtual-size").asLong()).isEqualTo(3L << 30);
        assertThat(info.get("cluster-size").asInt()).isEqualTo(4096);
        assertThat(info.at("/format-specific/data/compat").asText()).isEqualTo("0.10");
    }

    @Test
    void overlayInfoChainListsBothImages() {
        Path base = dir.resolve("base.raw");
        Path top = dir.resolve("top.qcow2");
        QemuImg.create(base, "raw", 1 << 20);
        QemuImg.createOverlay(top, Path.of("base.raw"), "raw");
        JsonNode chain = QemuImg.infoChainJson(top);
        assertThat(chain).hasSize(2);
        assertThat(chain.get(0).get("backing-filename").asText()).isEqualTo("base.raw");
        assertThat(chain.get(1).get("format").asText()).isEqualTo("raw");
    }

    @Test
    void checkReturnsTheJsonReportAlsoWhenItFindsCorruption() throws Exception {
        Path img = dir.resolve("c.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        QemuIo.writePattern(img, "qcow2", 0, 65536, 0xab);
        assertThat(QemuImg.checkJson(img).get("check-errors").asInt()).isZero();
        assertThat(QemuImg.check(img).clean()).isTrue();

        // The first refcount-table entry (refcount table at 0x10000) -> 0: every cluster's
        // refcount reads as 0 while the L1/L2 tables use them.
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8), 0x10000);
        }
        QemuImg.CheckOutcome outcome = QemuImg.check(img);
        assertThat(outcome.exitCode()).isEqualTo(2);
        assertThat(outcome.json().get("corruptions").asInt()).isPositive();
        assertThat(QemuImg.checkJson(img).get("corruptions").asInt()).isPositive();
    }

    @Test
    void checkOfAnUnopenableImageHasNoJson() throws Exception {
        Path img = dir.resolve("not.qcow2");
        java.nio.file.Files.write(img, new byte[4096]);
        QemuImg.CheckOutcome outcome = QemuImg.check(img);
        assertThat(outcome.exitCode()).isEqualTo(1);
        assertThat(outcome.json()).isNull();
        assertThat(outcome.stderr()).contains("not in qcow2 format");
        assertThatThrownBy(() -> QemuImg.checkJson(img)).isInstanceOf(AssertionError.class);
    }

    @Test
    void mapCompareAndConvert() {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        QemuImg.create(a, "qcow2", 1 << 20);
        QemuImg.create(b, "qcow2", 1 << 20);
        assertThat(QemuImg.compare(a, b)).isZero();
        QemuIo.writePattern(a, "qcow2", 4096, 4096, 1);
        assertThat(QemuImg.compare(a, b)).isEqualTo(1);
        assertThatThrownBy(() -> QemuImg.assertSameContent(a, "qcow2", b, "qcow2"))
                .hasMessageContaining("Content mismatch at offset 4096");

        JsonNode map = QemuImg.mapJson(a);
        assertThat(map.get(0).get("data").asBoolean()).isTrue();
        assertThat(map.get(0).get("start").asLong()).isZero();

        Path raw = dir.resolve("a.raw");
        QemuImg.convert(a, "qcow2", raw, "raw");
        QemuImg.assertSameContent(a, "qcow2", raw, "raw");
        assertThatThrownBy(() -> QemuImg.compare(a, "qcow2", dir.resolve("missing.raw"), "raw"))
                .isInstanceOf(AssertionError.class).hasMessageContaining("failed with 2");
    }

    @Test
    void snapshots() {
        Path img = dir.resolve("s.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        assertThat(QemuImg.snapshotList(img)).isEmpty();
        QemuIo.writePattern(img, "qcow2", 0, 512, 0x11);
        QemuImg.snapshotCreate(img, "one");
        QemuIo.writePattern(img, "qcow2", 0, 512, 0x22);
        QemuImg.snapshotCreate(img, "two");
        assertThat(QemuImg.snapshotList(img)).extracting(n -> n.get("name").asText()).containsExactly("one", "two");
        QemuImg.snapshotApply(img, "one");
        QemuIo.verifyPattern(img, "qcow2", 0, 512, 0x11);
        QemuImg.snapshotDelete(img, "two");
        assertThat(QemuImg.snapshotList(img)).extracting(n -> n.get("name").asText()).containsExactly("one");
    }

    @Test
    void rebaseUnsafeAndResize() {
        Path img = dir.resolve("r.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        QemuImg.rebaseUnsafe(img, "elsewhere.qcow2", "qcow2");
        assertThat(QemuImg.run(List.of("info", "--output=json", "-U", img.toString())).stdout())
                .contains("elsewhere.qcow2");
        Path raw = dir.resolve("r.raw");
        QemuImg.create(raw, "raw", 1 << 20);
        QemuImg.resize(raw, "raw", 2 << 20);
        assertThat(QemuImg.infoJson(raw, "raw").get("virtual-size").asLong()).isEqualTo(2 << 20);
    }
}
