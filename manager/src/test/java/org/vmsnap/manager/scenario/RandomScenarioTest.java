package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.N;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.plan.CrashPoint;
import org.vmsnap.manager.scenario.ScenarioFixture.DiskSpec;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.testkit.SeededRun;

/**
 * Random sequences of writes, creates (internal, external, mixed, a disk left out), reverts and
 * deletes (alone, with children, children only) on two disks, everything verified after every
 * step. A failure names the seed and the last operations; replay with {@code -Dvmsnap.seed=N}.
 */
class RandomScenarioTest {
    static final int STEPS = Integer.getInteger("vmsnap.scenario.steps", 24);

    @TempDir
    Path tmp;

    @Test
    void randomSnapshotTreesKeepEverySnapshotsData() {
        SeededRun.run("random snapshot trees", run -> run(run, false));
    }

    /**
     * The same, but about one operation in five is interrupted before a random step; the next
     * command (a new DomainService) finishes or undoes it: the old or the new state, never a mix.
     */
    @Test
    void randomSnapshotTreesSurviveCrashes() {
        SeededRun.run("random snapshot trees with crashes", run -> run(run, true));
    }

    private void run(SeededRun.Context run, boolean crashes) throws Exception {
        Random r = run.random();
        boolean rawSecond = r.nextInt(3) == 0;
        run.log("disks: qcow2 and %s", rawSecond ? "raw" : "qcow2");
        ScenarioFixture f = ScenarioFixture.create(tmp.resolve((crashes ? "crash-" : "seed-")
                + Long.toHexString(run.seed())), DiskSpec.qcow2(4), rawSecond ? DiskSpec.raw(4) : DiskSpec.qcow2(4));
        for (int n = 1; n <= STEPS; n++) {
            int crashAt = crashes && r.nextInt(5) == 0 ? 1 + r.nextInt(12) : 0;
            if (crashAt == 0) {
                step(run, r, f, "n" + n, new Model[1]);
            } else {
                run.log("(the next operation crashes before step %d)", crashAt);
                Model before = f.model;
                Model[] after = {before};
                boolean crashed = false;
                CrashPoint.arm(crashAt);
                try {
                    step(run, r, f, "n" + n, after);
                } catch (CrashPoint.SimulatedCrash e) {
                    crashed = true;
                } finally {
                    CrashPoint.arm(0);
                }
                if (crashed) {
                    Path journal = f.home.resolve(ScenarioFixture.DOMAIN).resolve("journal");
                    List<String> lines = java.nio.file.Files.readAllLines(journal);
                    if (lines.getLast().startsWith("done ") && r.nextBoolean()) {
                        run.log("(the last step ran but the journal did not record it)");
                        java.nio.file.Files.write(journal, lines.subList(0, lines.size() - 1));
                    }
                    f.reopen();
                    String state = CrashRunner.settle(f, before, after[0], "crash before step " + crashAt);
                    run.log("(crashed; the next command left the %s state)", state);
                }
            }
            f.verify();
            if (r.nextInt(8) == 0) {
                run.log("new DomainService (next process)");
                f.reopen();
            }
        }
        run.log("revert to every snapshot %s", f.model.snaps.keySet());
        f.verifyByReverting();
    }

    /** One random operation; {@code after[0]} receives the model it leads to before it runs. */
    private static void step(SeededRun.Context run, Random r, ScenarioFixture f, String name, Model[] after)
            throws Exception {
        int op = r.nextInt(100);
        List<String> snaps = new ArrayList<>(f.model.snaps.keySet());
        if (op < 15) {
            String t = f.targets.get(r.nextInt(f.targets.size()));
            long size = f.model.disks.get(t).size();
            long off = r.nextLong(size - 1);
            int len = 1 + r.nextInt((int) Math.min(300_000, size - off));
            run.log("write %s 0x%x+%d", t, off, len);
            f.write(t, off, len);
        } else if (op < 60) {
            create(run, r, f, name, after);
        } else if (op < 78 && !snaps.isEmpty()) {
            String s = snaps.get(r.nextInt(snaps.size()));
            run.log("revert %s", s);
            after[0] = f.model.revert(s);
            f.revert(s);
        } else if (!snaps.isEmpty()) {
            String s = snaps.get(r.nextInt(snaps.size()));
            int k = r.nextInt(10);
            DeleteScope scope = k < 7 ? DeleteScope.SNAPSHOT : k < 9 ? DeleteScope.CHILDREN : DeleteScope.CHILDREN_ONLY;
            run.log("delete %s %s", s, scope);
            after[0] = f.model.delete(s, scope);
            f.delete(s, scope);
        } else {
            run.log("fill");
            f.fill();
        }
    }

    /** A create with random modes; internal on a disk whose image is raw must fail, naming the disk, changing nothing. */
    private static void create(SeededRun.Context run, Random r, ScenarioFixture f, String name, Model[] after)
            throws Exception {
        CreateFlags flags;
        SnapshotMode[] modes;
        int k = r.nextInt(10);
        if (k < 3) {
            flags = NONE;
            modes = new SnapshotMode[0];
        } else if (k < 6) {
            flags = DISK_ONLY;
            modes = new SnapshotMode[0];
        } else {
            flags = NONE;
            modes = new SnapshotMode[f.targets.size()];
            do {
                for (int i = 0; i < modes.length; i++) {
                    int m = r.nextInt(9);
                    modes[i] = m < 4 ? I : m < 8 ? E : N;
                }
            } while (Arrays.stream(modes).allMatch(m -> m == N));
        }
        boolean reused = false;
        if (!f.usedNames.isEmpty() && r.nextInt(5) == 0) {
            List<String> old = new ArrayList<>(f.usedNames);
            old.removeAll(f.model.snaps.keySet());
            if (!old.isEmpty()) {
                name = old.get(r.nextInt(old.size()));
                reused = true;
            }
        }
        run.log("create %s %s %s", name, flags.diskOnly() ? "--disk-only" : "", Arrays.toString(modes));
        var expected = f.expectedModes(flags, modes);
        String rawInternal = null;
        for (String t : f.targets) {
            if (expected.get(t) == I && !f.domains.get(ScenarioFixture.DOMAIN).disk(t).orElseThrow().isQcow2()) {
                rawInternal = t;
            }
        }
        if (rawInternal == null && reused) {
            // A name used before: its old overlay name may be taken by a merged image, in which case
            // vmsnap refuses (as libvirt does for an existing file) without changing anything.
            ScenarioFixture.Footprint before = f.footprint();
            after[0] = f.afterCreate(name, flags, modes);
            try {
                f.create(name, flags, modes);
            } catch (InvalidInputException e) {
                run.log("  (refused: %s)", e.getMessage());
                assertThat(e.getMessage()).contains("already");
                assertThat(f.footprint()).isEqualTo(before);
            }
            return;
        }
        if (rawInternal == null) {
            after[0] = f.afterCreate(name, flags, modes);
            f.create(name, flags, modes);
            return;
        }
        run.log("  (must fail: disk %s is raw)", rawInternal);
        ScenarioFixture.Footprint before = f.footprint();
        String disk = rawInternal;
        String asked = name;
        assertThatThrownBy(() -> f.create(asked, flags, modes)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining(disk);
        assertThat(f.footprint()).isEqualTo(before);
    }
}
