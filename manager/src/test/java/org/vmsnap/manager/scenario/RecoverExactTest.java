package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.N;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.RecoverReport;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.testkit.SeededRun;

/**
 * {@code recover} after the state folder is lost gives back exactly what was lost when the
 * mirror beside the images survived: every metadata file compared byte for byte (domain,
 * each snapshot's XML with its name, parent, description, time, state and disks, the current
 * snapshot, the images vmsnap made, the pending deletes). The sequences of issue 15 first, then
 * random trees where the state is wiped and recovered after every step.
 */
class RecoverExactTest {
    /** Seeds of the random run: 200 in CI ({@code -Dvmsnap.recover.seeds=N} for a longer run). */
    static final int SEEDS = Integer.getInteger("vmsnap.recover.seeds", 200);
    static final int STEPS = Integer.getInteger("vmsnap.recover.steps", 14);

    @TempDir
    Path tmp;

    @Test
    void revertsRenumberOverlaysAndDeletedSnapshotsStayDeleted() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        f.create("s1", NONE);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY);
        f.revert("e1");
        f.fill();
        f.create("e3", DISK_ONLY);
        f.delete("e1", DeleteScope.SNAPSHOT);
        f.revert("e2");
        f.revert("e3");
        f.revert("s1");
        f.create("e4", DISK_ONLY);
        f.fill();
        f.create("e5", DISK_ONLY);
        assertRecoversExactly(f, true);
        assertRecoversExactly(f, false);
        f.verify();
        f.verifyByReverting();
    }

    @Test
    void aSnapshotAboveTheRevertTargetComesBack() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY);
        f.revert("e1");
        assertRecoversExactly(f, true);
    }

    @Test
    void anExternalSnapshotAboveARevertedInternalOneComesBack() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("i1", NONE);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.revert("i1");
        assertRecoversExactly(f, true);
    }

    @Test
    void aDeletedExternalSnapshotBelowAnInternalOneStaysDeleted() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("i2", NONE);
        f.delete("e1", DeleteScope.SNAPSHOT);
        assertRecoversExactly(f, true);
    }

    @Test
    void aRenamedSnapshotKeepsItsNameDescriptionAndChildren() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY);
        SnapshotDef e1 = f.service().tree().get("e1");
        f.service().edit("e1", e1.withName("x1").withDescription("my desc"));
        f.model = f.model.rename("e1", "x1");
        assertThat(f.service().tree().get("e2").parent()).isEqualTo("x1");
        assertRecoversExactly(f, true);
    }

    @Test
    void metadataOnlyDeletesStayDeleted() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("i1", NONE);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY);
        f.deleteMetadata("i1", DeleteScope.SNAPSHOT);
        f.deleteMetadata("e1", DeleteScope.SNAPSHOT);
        assertRecoversExactly(f, true);
    }

    /** A mirror copy that names a file outside the disk's images is not recovered (and the file not touched). */
    @Test
    void aMirrorCopyNamingAForeignImageIsNotRecovered() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("i1", NONE);
        Path foreign = tmp.resolve("foreign.qcow2");
        org.vmsnap.testkit.QemuImg.create(foreign, "qcow2", 1 << 20);
        org.vmsnap.testkit.QemuImg.snapshotCreate(foreign, "evil");
        Path mirror = f.userFiles.get("vda").resolveSibling("." + ScenarioFixture.DOMAIN + ".vmsnap");
        String xml = Files.readString(mirror.resolve("i1.xml"), StandardCharsets.UTF_8)
                .replace("<name>i1</name>", "<name>evil</name>")
                .replace(f.userFiles.get("vda").toString(), foreign.toString());
        Files.writeString(mirror.resolve("evil.xml"), xml);
        Path folder = f.home.resolve(ScenarioFixture.DOMAIN);
        wipe(folder);
        f.domains = new DomainService(f.home);
        f.domains.define(f.xml);
        RecoverReport report = f.service().recover();
        assertThat(report.snapshots()).containsExactly("i1");
        assertThat(report.notes()).anyMatch(n -> n.contains("snapshot evil: in the mirror but image " + foreign
                + " is not one of the images of disk vda"));
    }

    /**
     * Random trees on two disks (qcow2 + qcow2 or raw): after every operation the state folder is
     * copied, wiped, the domain defined again (from the user's first XML or from the current
     * one) and recovered; the recovered files must equal the copy. The run then goes on from
     * the recovered state, so later steps work on what recover made.
     */
    @Test
    void everyStepOfRandomTreesRecoversExactly() {
        List<Long> seeds = new ArrayList<>();
        if (System.getProperty(SeededRun.SEED_PROPERTY) != null) {
            seeds.addAll(SeededRun.seeds());
        } else {
            seeds.addAll(SeededRun.FIXED_SEEDS);
            long base = ThreadLocalRandom.current().nextLong();
            for (int i = seeds.size(); i < SEEDS; i++) {
                seeds.add(base + i);
            }
        }
        int[] compared = {0};
        for (long seed : seeds) {
            SeededRun.run("recover after every step", seed, run -> {
                compared[0] += randomRun(run);
            });
        }
        System.out.printf("recover: %d seeds x %d steps, %d recoveries, 0 differences%n", seeds.size(), STEPS,
                compared[0]);
    }

    private int randomRun(SeededRun.Context run) throws Exception {
        Random r = run.random();
        boolean rawSecond = r.nextInt(4) == 0;
        run.log("disks: qcow2 and %s", rawSecond ? "raw" : "qcow2");
        ScenarioFixture f = ScenarioFixture.create(tmp.resolve(Long.toHexString(run.seed())),
                ScenarioFixture.DiskSpec.qcow2(2), rawSecond ? ScenarioFixture.DiskSpec.raw(2)
                        : ScenarioFixture.DiskSpec.qcow2(2));
        int recoveries = 0;
        for (int n = 1; n <= STEPS; n++) {
            step(run, r, f, "n" + n);
            boolean userXml = r.nextBoolean();
            run.log("wipe the state, define the %s XML, recover", userXml ? "user's first" : "current");
            assertRecoversExactly(f, userXml);
            recoveries++;
        }
        if (Math.floorMod(run.seed(), 5) == 0) {
            // what recover made works: every snapshot reads its data (one seed in five: it is slow)
            run.log("verify every snapshot by reverting");
            f.verifyByReverting();
        }
        return recoveries;
    }

    private static void step(SeededRun.Context run, Random r, ScenarioFixture f, String name) throws Exception {
        List<String> snaps = new ArrayList<>(f.model.snaps.keySet());
        int op = r.nextInt(100);
        if (op < 12) {
            run.log("fill");
            f.fill();
        } else if (op < 55 || snaps.isEmpty()) {
            CreateFlags flags = r.nextBoolean() ? NONE : DISK_ONLY;
            SnapshotMode[] modes = new SnapshotMode[0];
            if (r.nextInt(3) == 0) {
                modes = new SnapshotMode[] {r.nextBoolean() ? I : E, r.nextBoolean() ? E : N};
                flags = NONE;
            }
            var expected = f.expectedModes(flags, modes);
            boolean rawInternal = false;
            for (String t : f.targets) {
                rawInternal |= expected.get(t) == I
                        && !f.domains.get(ScenarioFixture.DOMAIN).disk(t).orElseThrow().isQcow2();
            }
            if (rawInternal) {
                modes = new SnapshotMode[] {modes.length > 0 ? modes[0] : I, E};
                flags = NONE;
            }
            run.log("create %s %s %s", name, flags.diskOnly() ? "--disk-only" : "", java.util.Arrays.toString(modes));
            f.create(name, flags, modes);
            if (r.nextInt(4) == 0) {
                run.log("fill");
                f.fill();
            }
        } else if (op < 75) {
            String s = snaps.get(r.nextInt(snaps.size()));
            run.log("revert %s", s);
            f.revert(s);
        } else if (op < 82) {
            String s = snaps.get(r.nextInt(snaps.size()));
            String to = "r" + name;
            run.log("rename %s to %s (with a description)", s, to);
            SnapshotDef d = f.service().tree().get(s);
            try {
                f.service().edit(s, d.withName(to).withDescription("renamed from " + s));
                f.model = f.model.rename(s, to);
            } catch (InvalidInputException e) {
                run.log("  (refused: %s)", e.getMessage());
            }
        } else if (op < 88) {
            String s = snaps.get(r.nextInt(snaps.size()));
            run.log("delete %s --metadata", s);
            f.deleteMetadata(s, DeleteScope.SNAPSHOT);
        } else {
            String s = snaps.get(r.nextInt(snaps.size()));
            DeleteScope scope = r.nextInt(4) == 0 ? DeleteScope.CHILDREN : DeleteScope.SNAPSHOT;
            run.log("delete %s %s", s, scope);
            f.delete(s, scope);
        }
    }

    /**
     * Copies the state folder, removes it, defines the domain again and recovers; every file of
     * the recovered state folder must equal the copy (the journal and lock aside).
     */
    static void assertRecoversExactly(ScenarioFixture f, boolean userXml) throws IOException {
        Path folder = f.home.resolve(ScenarioFixture.DOMAIN);
        Map<String, String> before = stateFiles(folder);
        String xml = userXml ? f.xml : before.get("domain.xml");
        wipe(folder);
        f.domains = new DomainService(f.home);
        f.domains.define(xml);
        RecoverReport report = f.service().recover();
        Map<String, String> after = stateFiles(folder);
        List<String> differences = differences(before, after);
        assertThat(differences).as("state recovered from the mirror differs from the lost one (notes: %s)",
                report.notes()).isEmpty();
    }

    /** Each file that differs: its name and the first line that differs, lost against recovered. */
    static List<String> differences(Map<String, String> lost, Map<String, String> recovered) {
        List<String> out = new ArrayList<>();
        java.util.Set<String> keys = new java.util.TreeSet<>(lost.keySet());
        keys.addAll(recovered.keySet());
        for (String k : keys) {
            String a = lost.get(k);
            String b = recovered.get(k);
            if (a == null || b == null) {
                out.add(k + (a == null ? ": not lost but recovered:\n" + b : ": lost, not recovered:\n" + a));
            } else if (!a.equals(b)) {
                List<String> la = a.lines().toList();
                List<String> lb = b.lines().toList();
                int i = 0;
                while (i < la.size() && i < lb.size() && la.get(i).equals(lb.get(i))) {
                    i++;
                }
                out.add(k + ": line " + (i + 1) + ": lost '" + (i < la.size() ? la.get(i) : "<end>")
                        + "', recovered '" + (i < lb.size() ? lb.get(i) : "<end>") + "'");
            }
        }
        return out;
    }

    /** The metadata files of a domain's state folder, by relative path (journal, lock and runtime aside). */
    static Map<String, String> stateFiles(Path folder) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                String rel = folder.relativize(p).toString();
                if (rel.equals("journal") || rel.equals("lock") || rel.startsWith(".")
                        || rel.contains("/.")) {
                    continue;
                }
                String text = Files.readString(p, StandardCharsets.UTF_8);
                if (rel.equals("owned") || rel.equals("pending-deletes")) {
                    text = text.lines().sorted().reduce("", (a, b) -> a + b + "\n");
                }
                if (!text.isEmpty()) {
                    out.put(rel, text);
                }
            }
        }
        return out;
    }

    private static void wipe(Path folder) throws IOException {
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
