package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;

/**
 * The overlap guard against a plain model (a list of byte ranges, scanned in full) over
 * seeded random sequences of adds, removes and queries; tables may share clusters, as in
 * the damaged images the check reads. A failure prints the seed and the operation log.
 */
class OverlapGuardTest {
    private static final Path FILE = Path.of("model.qcow2");
    private static final OverlapGuard.Kind[] TABLE_KINDS = {
            OverlapGuard.Kind.L1_TABLE, OverlapGuard.Kind.REFCOUNT_TABLE, OverlapGuard.Kind.SNAPSHOT_TABLE,
            OverlapGuard.Kind.SNAPSHOT_L1, OverlapGuard.Kind.L2_TABLE, OverlapGuard.Kind.REFCOUNT_BLOCK,
            OverlapGuard.Kind.BITMAP_DIRECTORY};

    private record Table(OverlapGuard.Kind kind, long offset, long bytes) {
        boolean touches(Geometry g, long firstCluster, long lastCluster) {
            return g.clusterIndex(offset) <= lastCluster && g.clusterIndex(offset + bytes - 1) >= firstCluster;
        }
    }

    @Test
    void agreesWithAPlainScanOverRandomLayouts() {
        long base = Long.getLong("vmsnap.seed", System.nanoTime());
        for (int run = 0; run < 300; run++) {
            long seed = base + run;
            List<String> log = new ArrayList<>();
            try {
                runOne(seed, log);
            } catch (AssertionError e) {
                throw new AssertionError("seed " + seed + " (rerun with -Dvmsnap.seed=" + seed + "), operations:\n  "
                        + String.join("\n  ", log), e);
            }
        }
    }

    private static void runOne(long seed, List<String> log) {
        Random rnd = new Random(seed);
        Geometry g = new Geometry(9 + rnd.nextInt(4), 4);
        int cs = g.clusterSize();
        boolean overlapping = rnd.nextBoolean();
        OverlapGuard guard = new OverlapGuard(FILE, g);
        List<Table> model = new ArrayList<>();
        model.add(new Table(OverlapGuard.Kind.HEADER, 0, cs));
        long clusters = 64;
        for (int step = 0; step < 80; step++) {
            int op = rnd.nextInt(10);
            if (op < 4) {
                OverlapGuard.Kind kind = TABLE_KINDS[rnd.nextInt(TABLE_KINDS.length)];
                long offset = (1 + rnd.nextInt((int) clusters - 1)) * (long) cs + (rnd.nextBoolean() ? 0 : 8L * rnd.nextInt(cs / 8));
                long bytes = 8 + 8L * rnd.nextInt(cs * (1 + rnd.nextInt(4)) / 8);
                Table t = new Table(kind, offset, bytes);
                boolean clash = model.stream().anyMatch(o -> o.touches(g, g.clusterIndex(offset), g.clusterIndex(offset + bytes - 1)));
                if (!overlapping && clash) {
                    continue; // the engine's guard holds disjoint tables only
                }
                log.add("add " + t);
                guard.addTable(kind, offset, bytes);
                model.add(t);
            } else if (op < 5 && model.size() > 1) {
                Table t = model.get(1 + rnd.nextInt(model.size() - 1));
                if (model.stream().filter(o -> o.kind == t.kind && g.clusterIndex(o.offset) == g.clusterIndex(t.offset))
                        .count() > 1) {
                    continue; // two tables of one kind from one cluster: the guard keeps one of them
                }
                log.add("remove " + t);
                guard.removeTable(t.kind, t.offset);
                model.remove(t);
            } else {
                long offset = rnd.nextLong(clusters * cs);
                long length = 1 + rnd.nextInt(3 * cs);
                Set<OverlapGuard.Kind> allowed = EnumSet.noneOf(OverlapGuard.Kind.class);
                if (rnd.nextBoolean()) {
                    allowed.add(TABLE_KINDS[rnd.nextInt(TABLE_KINDS.length)]);
                }
                long first = g.clusterIndex(offset);
                long last = g.clusterIndex(offset + length - 1);
                OverlapGuard.Kind expected = model.stream().filter(t -> t.touches(g, first, last))
                        .map(Table::kind).filter(k -> !allowed.contains(k)).min(Enum::compareTo).orElse(null);
                log.add("query " + offset + "+" + length + " allowing " + allowed + " -> " + expected);
                assertThat(guard.firstOverlap(offset, length, allowed)).isEqualTo(expected);
                OverlapGuard.Kind atFirst = model.stream().filter(t -> t.touches(g, first, first))
                        .map(Table::kind).min(Enum::compareTo).orElse(null);
                assertThat(guard.kindAt(first)).as("kind at cluster %d", first).isEqualTo(atFirst);
            }
        }
    }

    @Test
    void aDataWriteOntoMetadataIsRefusedAndMarksTheImageOnce() throws Exception {
        Geometry g = new Geometry(16, 4);
        OverlapGuard guard = new OverlapGuard(FILE, g);
        int[] marks = {0};
        guard.setMarker(() -> marks[0]++);
        guard.addTable(OverlapGuard.Kind.L1_TABLE, 3L << 16, 8);
        guard.addL2Table(5L << 16);
        guard.checkData(4L << 16, 1 << 16); // a free cluster
        assertThatThrownBy(() -> guard.checkData((4L << 16) + 512, 1 << 16))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("L2 table")
                .hasMessageContaining("0x50000");
        assertThat(marks[0]).isEqualTo(1);
        assertThat(guard.tripped()).isTrue();
        assertThatThrownBy(() -> guard.checkData(4L << 16, 512)).hasMessageContaining("no more writes");
        assertThat(marks[0]).isEqualTo(1);
    }

    @Test
    void aClusterHoldingTwoKindsIsReportedInQemusOrderWhateverTheOrderOfRegistration() {
        Geometry g = new Geometry(16, 4);
        OverlapGuard guard = new OverlapGuard(FILE, g);
        guard.addRefcountBlock(7L << 16);
        guard.addTable(OverlapGuard.Kind.REFCOUNT_TABLE, 6L << 16, 2L << 16);
        guard.addL2Table(7L << 16);
        assertThat(guard.firstOverlap(7L << 16, 8, Set.of())).isEqualTo(OverlapGuard.Kind.REFCOUNT_TABLE);
        assertThat(guard.firstOverlap(7L << 16, 8, Set.of(OverlapGuard.Kind.REFCOUNT_TABLE)))
                .isEqualTo(OverlapGuard.Kind.L2_TABLE);
        guard.removeL2Table(7L << 16);
        assertThat(guard.firstOverlap(7L << 16, 8, Set.of(OverlapGuard.Kind.REFCOUNT_TABLE)))
                .isEqualTo(OverlapGuard.Kind.REFCOUNT_BLOCK);
        assertThat(guard.firstOverlap(8L << 16, 8, Set.of())).isNull();
    }
}
