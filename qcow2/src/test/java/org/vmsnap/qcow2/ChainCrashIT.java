package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.engine.Qcow2Engine;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.FaultyBlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;
import org.vmsnap.testkit.QemuImg;

/**
 * Power loss at every write and flush of a commit and of a safe rebase: after the crash
 * the chain reads as the guest saw it, a commit retried on the crashed files finishes the
 * job, and {@code qemu-img check} finds no corruption (leaks are allowed: a crash may leak
 * clusters, never corrupt).
 */
class ChainCrashIT {
    private static final int CLUSTER = 65536;
    private static final long SIZE = 32L * CLUSTER;

    @TempDir
    Path dir;

    /** bottom (0x11 everywhere) <- base (0x22 here and there) <- top (data, zero cluster, partial cluster). */
    private final MemoryBlockStore bottom = new MemoryBlockStore(Path.of("bottom.qcow2"));
    private final MemoryBlockStore base = new MemoryBlockStore(Path.of("base.qcow2"));
    private final MemoryBlockStore top = new MemoryBlockStore(Path.of("top.qcow2"));

    ChainCrashIT() throws IOException {
        ImageCreator.create(bottom, Qcow2CreateOptions.ofSize(SIZE));
        try (Qcow2Image b = Qcow2Image.openStore(bottom, false, null)) {
            b.write(0, ByteBuffer.wrap(filled((int) SIZE, 0x11)));
        }
        ImageCreator.create(base, Qcow2CreateOptions.ofSize(SIZE).withClusterSize(4096)
                .withBacking("bottom.qcow2", "qcow2"));
        try (Qcow2Image b = Qcow2Image.openStore(base, false, view(copy(bottom)))) {
            b.write(3L * CLUSTER, ByteBuffer.wrap(filled(2 * CLUSTER, 0x22)));
            b.write(20L * CLUSTER + 4096, ByteBuffer.wrap(filled(8192, 0x23)));
            b.write(10L * CLUSTER, ByteBuffer.wrap(filled(3 * CLUSTER, 0x24)));
            b.writeZeroes(15L * CLUSTER, CLUSTER);
            b.write(24L * CLUSTER + 4096, ByteBuffer.wrap(filled(8192, 0x25)));
        }
        ImageCreator.create(top, Qcow2CreateOptions.ofSize(SIZE).withBacking("base.qcow2", "qcow2"));
        try (Qcow2Image t = Qcow2Image.openStore(top, false, chain(copy(base), copy(bottom)))) {
            t.write(CLUSTER, ByteBuffer.wrap(filled(6 * CLUSTER, 0x33)));
            t.writeZeroes(4L * CLUSTER, CLUSTER);
            t.write(20L * CLUSTER + 100, ByteBuffer.wrap(filled(3000, 0x34)));
            t.write(30L * CLUSTER, ByteBuffer.wrap(filled(2 * CLUSTER, 0x35)));
        }
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static MemoryBlockStore copy(BlockStore s) throws IOException {
        return MemoryBlockStore.copyOf(s);
    }

    /** A read-only view of one standalone layer. */
    private static ChainView view(MemoryBlockStore layer) throws IOException {
        return new ChainView(List.of(Qcow2Image.openStore(layer, true, null)), false);
    }

    /** base (read-only, with bottom below) as a chain view. */
    private static ChainView chain(MemoryBlockStore baseStore, MemoryBlockStore bottomStore) throws IOException {
        return new ChainView(List.of(Qcow2Image.openStore(baseStore, true, null),
                Qcow2Image.openStore(bottomStore, true, null)), false);
    }

    private static byte[] read(BlockDevice d) throws IOException {
        byte[] all = new byte[(int) d.size()];
        d.read(0, ByteBuffer.wrap(all));
        return all;
    }

    /** What top shows through base and bottom, stores as given. */
    private byte[] topView(BlockStore topStore, BlockStore baseStore) throws IOException {
        try (Qcow2Image t = Qcow2Image.openStore(copy(topStore), true,
                chain(copy(baseStore), copy(bottom)))) {
            return read(t);
        }
    }

    private byte[] baseView(BlockStore baseStore) throws IOException {
        try (Qcow2Image b = Qcow2Image.openStore(copy(baseStore), true, view(copy(bottom)))) {
            return read(b);
        }
    }

    /** Commits top into base (base writable, over bottom), both stores possibly faulty. */
    private void commit(BlockStore topStore, BlockStore baseStore) throws IOException {
        Qcow2Image writableBase = Qcow2Image.openStore(baseStore, false, view(copy(bottom)));
        ChainView below = new ChainView(List.of(writableBase), true);
        Qcow2Image t = Qcow2Image.openStore(topStore, false, below);
        ImageCommit.commitOpened(t, writableBase, 1, true, Progress.NONE);
        t.close();
    }

    @Test
    void commitSurvivesPowerLossAtEveryStep() throws IOException {
        // The fault-free run: how many changing operations each file sees, and the result.
        FaultyBlockStore countTop = new FaultyBlockStore(copy(top), FaultyBlockStore.NEVER);
        FaultyBlockStore countBase = new FaultyBlockStore(copy(base), FaultyBlockStore.NEVER);
        byte[] before = topView(top, base);
        commit(countTop, countBase);
        MemoryBlockStore committedBase = countBase.crashImage();
        assertThat(topView(countTop.crashImage(), committedBase)).isEqualTo(before);
        assertThat(baseView(committedBase)).as("base shows top's view after the commit").isEqualTo(before);
        long baseOps = countBase.operations();
        long topOps = countTop.operations();
        assertThat(baseOps).isPositive();
        assertThat(topOps).isPositive();

        // Power lost while the base is written: the top is untouched.
        for (long failAt = 1; failAt <= baseOps; failAt++) {
            FaultyBlockStore faultyBase = new FaultyBlockStore(copy(base), failAt, failAt);
            FaultyBlockStore quietTop = new FaultyBlockStore(copy(top), FaultyBlockStore.NEVER);
            assertThatThrownBy(() -> commit(quietTop, faultyBase)).isInstanceOf(IOException.class);
            afterCrash("commit, base fails at " + failAt, quietTop.crashImage(), faultyBase.crashImage(), before);
        }
        // Power lost while the top is emptied: the base already holds everything, durably.
        for (long failAt = 1; failAt <= topOps; failAt++) {
            FaultyBlockStore faultyTop = new FaultyBlockStore(copy(top), failAt, failAt);
            FaultyBlockStore quietBase = new FaultyBlockStore(copy(base), FaultyBlockStore.NEVER);
            assertThatThrownBy(() -> commit(faultyTop, quietBase)).isInstanceOf(IOException.class);
            afterCrash("commit, top fails at " + failAt, faultyTop.crashImage(), quietBase.crashImage(), before);
        }
    }

    /** The crashed chain reads as before, checks without corruption, and a retried commit completes. */
    private void afterCrash(String what, MemoryBlockStore crashedTop, MemoryBlockStore crashedBase, byte[] before)
            throws IOException {
        assertThat(topView(crashedTop, crashedBase)).as(what + ": top view").isEqualTo(before);
        noCorruption(what, crashedTop, crashedBase);
        MemoryBlockStore retryTop = copy(crashedTop);
        MemoryBlockStore retryBase = copy(crashedBase);
        commit(retryTop, retryBase);
        assertThat(topView(retryTop, retryBase)).as(what + ": top view after the retry").isEqualTo(before);
        assertThat(baseView(retryBase)).as(what + ": base view after the retry").isEqualTo(before);
    }

    @Test
    void rebaseSurvivesPowerLossAtEveryStep() throws IOException {
        // Rebase top from base onto bottom: base's clusters that top does not cover move into top.
        byte[] before = topView(top, base);
        FaultyBlockStore counter = new FaultyBlockStore(copy(top), FaultyBlockStore.NEVER);
        rebase(counter);
        assertThat(rebasedView(counter.crashImage())).isEqualTo(before);
        assertThat(backingName(counter.crashImage())).isEqualTo("bottom.qcow2");
        long ops = counter.operations();
        assertThat(ops).isPositive();
        boolean sawOld = false;
        boolean sawNew = false;
        for (long failAt = 1; failAt <= ops; failAt++) {
            FaultyBlockStore faulty = new FaultyBlockStore(copy(top), failAt, failAt);
            assertThatThrownBy(() -> rebase(faulty)).isInstanceOf(IOException.class);
            MemoryBlockStore crashed = faulty.crashImage();
            String name = backingName(crashed);
            sawOld |= name.equals("base.qcow2");
            sawNew |= name.equals("bottom.qcow2");
            assertThat(rebasedView(crashed)).as("rebase fails at %d (backing %s)", failAt, name).isEqualTo(before);
            noCorruption("rebase fails at " + failAt, crashed, base);
        }
        assertThat(sawOld).as("some crashes leave the old backing file").isTrue();
        assertThat(ops).as("clusters copied, flushes, the header").isGreaterThan(5);
    }

    private void rebase(BlockStore topStore) throws IOException {
        Qcow2Image img = Qcow2Image.openStore(topStore, false, view(copy(bottom)));
        ChainView oldChain = chain(copy(base), copy(bottom));
        ImageRebase.rebaseOpened(img, oldChain, "bottom.qcow2", "qcow2", Progress.NONE);
        img.close();
        oldChain.close();
    }

    private static String backingName(BlockStore store) throws IOException {
        return Qcow2Engine.readHeader(store).backingFileName();
    }

    /** The top's view through whichever backing file its header names after the crash. */
    private byte[] rebasedView(MemoryBlockStore crashedTop) throws IOException {
        String name = backingName(crashedTop);
        BlockDevice backing = switch (name) {
            case "base.qcow2" -> chain(copy(base), copy(bottom));
            case "bottom.qcow2" -> view(copy(bottom));
            default -> throw new AssertionError("unexpected backing name " + name);
        };
        try (Qcow2Image t = Qcow2Image.openStore(copy(crashedTop), true, backing)) {
            return read(t);
        }
    }

    /**
     * ImageChecker and qemu-img check find no corruption in the crashed top and base (leaks
     * are allowed after a crash). qemu-img opens the chain, so the files go to a folder of
     * their own under their names.
     */
    private void noCorruption(String what, MemoryBlockStore crashedTop, MemoryBlockStore crashedBase)
            throws IOException {
        for (MemoryBlockStore s : List.of(crashedTop, crashedBase)) {
            CheckResult ours = ImageChecker.check(copy(s), RepairMode.NONE);
            assertThat(ours.corruptions()).as(what + ": %s", ours.messages()).isZero();
        }
        Path folder = Files.createTempDirectory(dir, "crash");
        Files.write(folder.resolve("bottom.qcow2"), bottom.toByteArray());
        Files.write(folder.resolve("base.qcow2"), crashedBase.toByteArray());
        Files.write(folder.resolve("top.qcow2"), crashedTop.toByteArray());
        for (String name : List.of("top.qcow2", "base.qcow2")) {
            QemuImg.CheckOutcome qemu = QemuImg.check(folder.resolve(name));
            assertThat(qemu.exitCode()).as(what + ": qemu-img check of %s: %s", name, qemu.stderr()).isIn(0, 3);
        }
    }
}
