package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.ReferenceDisk;
import org.vmsnap.testkit.SeededRun;

/**
 * Seeded random runs on backing chains of 1..8 backing files (qcow2 v2/v3 with mixed cluster
 * sizes, sometimes a raw file at the bottom), against one reference disk per layer.
 *
 * <p>The chain is built bottom up, each layer getting random writes, write-zeroes and
 * discards while it is the top (a backing file is frozen once an overlay sits on it, as
 * QEMU requires). Then random steps on the top: more writes, commits (into the backing file
 * or further down, with or without emptying), safe rebases onto any lower layer, flattens,
 * reopens. After every step the top reads like its model and every image of the chain
 * checks clean. Replay a failure with -Dvmsnap.seed=N.
 */
class ChainModelTest {
    private static final int STEPS = 24;
    private static final int CHUNK = ReferenceDisk.CHUNK_BYTES;

    @TempDir
    Path dir;

    /** One image of the chain and its model. */
    private static final class Layer {
        final Path path;
        final String format;
        final int clusterBytes;
        final int version;
        ReferenceDisk model;

        Layer(Path path, String format, int clusterBytes, int version, ReferenceDisk model) {
            this.path = path;
            this.format = format;
            this.clusterBytes = clusterBytes;
            this.version = version;
            this.model = model;
        }

        String name() {
            return path.getFileName().toString();
        }

        @Override
        public String toString() {
            return name() + "(" + format + (format.equals("qcow2") ? " v" + version + " " + clusterBytes : "") + ")";
        }
    }

    @Test
    void randomChainOperationsMatchTheModel() {
        SeededRun.run("chain model", run -> {
            Random r = run.random();
            Path d = Files.createTempDirectory(dir, "seed");
            int backingFiles = 1 + r.nextInt(8);
            long size = (8 + r.nextInt(40)) * 65536L + r.nextInt(4) * 512L;
            List<Layer> chain = new ArrayList<>(); // chain.get(0) is the top
            for (int i = 0; i <= backingFiles; i++) {
                Layer layer = createLayer(d, i, size, chain.isEmpty() ? null : chain.getFirst(), r);
                run.log("create %s over %s size %d", layer, chain.isEmpty() ? "-" : chain.getFirst().name(), size);
                chain.addFirst(layer);
                writeSome(run, r, layer, 1 + r.nextInt(5));
            }
            verify(run, chain, "after building");
            for (int step = 0; step < STEPS; step++) {
                int op = r.nextInt(100);
                if (op < 40) {
                    writeSome(run, r, chain.getFirst(), 1 + r.nextInt(4));
                } else if (op < 60 && chain.size() > 1) {
                    commit(run, r, chain);
                } else if (op < 80 && chain.size() > 1) {
                    rebase(run, r, chain, r.nextInt(chain.size() - 1) + 1);
                } else if (op < 86) {
                    rebase(run, r, chain, -1);
                } else {
                    run.log("reopen and verify");
                }
                verify(run, chain, "after step " + step);
            }
        });
    }

    private static Layer createLayer(Path d, int index, long size, Layer below, Random r) throws IOException {
        if (below == null && r.nextInt(4) == 0) {
            Path p = d.resolve("l0.raw");
            RawImage.create(p, size);
            return new Layer(p, "raw", 512, 0, ReferenceDisk.raw(size));
        }
        int cluster = new int[] {512, 4096, 65536, 65536}[r.nextInt(4)];
        int version = r.nextInt(3) == 0 ? 2 : 3;
        Path p = d.resolve("l" + index + ".qcow2");
        Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(size).withClusterSize(cluster)
                .withCompat(version == 2 ? "0.10" : "1.1")
                .withRefcountBits(version == 2 ? 16 : new int[] {1, 16, 64}[r.nextInt(3)]);
        if (below != null) {
            o = o.withBacking(below.name(), below.format);
        }
        Qcow2Image.create(p, o).close();
        ReferenceDisk model = below == null ? ReferenceDisk.qcow2(size, cluster, version)
                : ReferenceDisk.overlay(below.model, cluster, version);
        return new Layer(p, "qcow2", cluster, version, model);
    }

    /** Random writes, write-zeroes and discards into the layer (opened read-write with its chain). */
    private static void writeSome(SeededRun.Context run, Random r, Layer layer, int count) throws IOException {
        try (BlockDevice img = layer.format.equals("raw")
                ? RawImage.open(layer.path, OpenOptions.readWrite().withFormat("raw"))
                : Qcow2Image.open(layer.path, OpenOptions.readWrite().withFormat("qcow2"))) {
            long size = img.size();
            for (int i = 0; i < count; i++) {
                int kind = r.nextInt(10);
                long off = r.nextBoolean() ? r.nextLong(size) : r.nextLong(size / CHUNK + 1) * CHUNK % size;
                long len = Math.min(size - off, 1 + r.nextInt(3 * CHUNK));
                if (kind < 6) {
                    byte[] data = new byte[(int) len];
                    if (r.nextInt(5) > 0) {
                        r.nextBytes(data);
                    }
                    run.log("%s: write %d+%d", layer.name(), off, len);
                    img.write(off, ByteBuffer.wrap(data));
                    layer.model.write(off, data);
                } else if (kind < 8) {
                    run.log("%s: write-zeroes %d+%d", layer.name(), off, len);
                    img.writeZeroes(off, len);
                    layer.model.writeZeroes(off, len);
                } else {
                    run.log("%s: discard %d+%d", layer.name(), off, len);
                    img.discard(off, len);
                    layer.model.discard(off, len);
                }
            }
        }
    }

    /**
     * Commit into the member at a random depth. Model: the base takes the top's view
     * wherever they differ; the overlay is emptied (its model deallocated) unless kept.
     */
    private static void commit(SeededRun.Context run, Random r, List<Layer> chain) throws IOException {
        int depth = 1 + r.nextInt(chain.size() - 1);
        Layer top = chain.getFirst();
        Layer base = chain.get(depth);
        boolean named = depth > 1 || r.nextBoolean();
        boolean drop = depth > 1 || r.nextInt(3) == 0;
        run.log("commit %s into %s (depth %d, named %s, drop %s)", top.name(), base.name(), depth, named, drop);
        ImageCommit.Result result = ImageCommit.commit(top.path, r.nextBoolean() ? null : "qcow2",
                named ? base.name() : null, drop, Progress.NONE);
        assertThat(result.baseDepth()).isEqualTo(depth);
        assertThat(result.emptied()).isEqualTo(!drop && !named);
        copyWhereDifferent(top.model, base.model, base.model);
        if (result.emptied()) {
            top.model.deallocate(0, top.model.size());
        }
        // The base is valid after any commit; check its own view too.
        try (BlockDevice b = open(base)) {
            assertThat(base.model.firstDifference(b::read)).as("base %s after commit", base.name()).isEqualTo(-1);
        }
    }

    /**
     * Safe rebase of the top onto chain.get(target), or flatten (target -1). Model: a new
     * overlay on the new backing's model, holding the old view wherever the two differ.
     */
    private static void rebase(SeededRun.Context run, Random r, List<Layer> chain, int target) throws IOException {
        Layer top = chain.getFirst();
        Layer newBacking = target < 0 ? null : chain.get(target);
        run.log("rebase %s onto %s", top.name(), newBacking == null ? "nothing (flatten)" : newBacking.name());
        ImageRebase.rebase(top.path, null, newBacking == null ? "" : newBacking.name(),
                newBacking == null ? null : newBacking.format, false, Progress.NONE);
        ReferenceDisk next = newBacking == null
                ? ReferenceDisk.qcow2(top.model.size(), top.clusterBytes, top.version)
                : ReferenceDisk.overlay(newBacking.model, top.clusterBytes, top.version);
        copyWhereDifferent(top.model, next, next);
        top.model = next;
        List<Layer> rest = newBacking == null ? List.of() : new ArrayList<>(chain.subList(target, chain.size()));
        chain.subList(1, chain.size()).clear();
        chain.addAll(rest);
    }

    /** Writes {@code from}'s view into {@code into}, chunk by chunk, wherever it differs from {@code reference}. */
    private static void copyWhereDifferent(ReferenceDisk from, ReferenceDisk reference, ReferenceDisk into) {
        long size = from.size();
        for (long off = 0; off < size; off += CHUNK) {
            int n = (int) Math.min(CHUNK, size - off);
            byte[] want = from.read(off, n);
            if (!Arrays.equals(want, reference.read(off, n))) {
                into.write(off, want);
            }
        }
    }

    private static BlockDevice open(Layer layer) throws IOException {
        return Images.open(layer.path, OpenOptions.readOnlyOpen().withFormat(layer.format));
    }

    /** The top reads like its model; every image of the chain checks clean. */
    private static void verify(SeededRun.Context run, List<Layer> chain, String when) throws IOException {
        try (BlockDevice top = open(chain.getFirst())) {
            assertThat(chain.getFirst().model.firstDifference(top::read)).as("top %s %s (chain %s)",
                    chain.getFirst().name(), when, chain).isEqualTo(-1);
        }
        for (Layer layer : chain) {
            if (layer.format.equals("qcow2")) {
                CheckResult c = Qcow2Image.check(layer.path, RepairMode.NONE);
                assertThat(c.corruptions() + c.leaks()).as("check of %s %s: %s", layer.name(), when, c.messages())
                        .isZero();
            }
        }
    }
}
