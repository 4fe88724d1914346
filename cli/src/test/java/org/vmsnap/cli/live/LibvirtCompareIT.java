package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.testkit.Libvirt;
import org.vmsnap.testkit.QemuTools;
import org.vmsnap.testkit.TestGuest;

/**
 * vmsnap against libvirt 9.0 on the same test guest: a private libvirtd ({@link Libvirt}, as root;
 * if it cannot start the test fails and says why) and vmsnap each run the guest from one XML
 * ({@link TestGuest#domainXml}) on their own copy of the disks, and get the SAME commands, one
 * after the other: the lifecycle verbs, the guest agent verbs, live external disk-only snapshots
 * of both disks (crash-consistent and quiesced), the snapshot listings, destroy. What both print
 * must be the same byte for byte, once the things that must differ are normalised (each side's
 * folder, UUIDs, times, CPU time); the chains the snapshots leave must have the same shape; what
 * libvirt refuses, vmsnap refuses with libvirt's words on one line ("error: A" / "error: B"
 * becomes "vmsnap: A: B"). Where vmsnap differs on purpose (README: "Differences from qemu-img and
 * virsh") the test says so and asserts both sides.
 */
class LibvirtCompareIT {
    private static final String NAME = "cmp";
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final Pattern SNAPSHOT_TIME = Pattern.compile("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}");

    @TempDir
    Path dir;

    private Libvirt libvirt;
    /** vmsnap's names of merged files to libvirt's (see {@link #merged}), as normalised text. */
    private final Map<String, String> renames = new LinkedHashMap<>();
    private Path lv;
    private Path vs;

    /** What one command printed on one side. */
    record Out(int exit, String stdout, String stderr) {
        String describe(String side) {
            return side + " exit " + exit + "\n--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr;
        }
    }

    /** The same command on both sides: {@code SIDE} in an argument is that side's folder. */
    record Both(List<String> args, Out virsh, Out vmsnap) {
        String describe() {
            return String.join(" ", args) + "\n" + virsh.describe("virsh") + "\n" + vmsnap.describe("vmsnap");
        }
    }

    @Test
    void theSameCommandsOnTheSameGuestPrintTheSameAndLeaveTheSameChains() throws Exception {
        lv = Files.createDirectories(dir.resolve("lv"));
        vs = Files.createDirectories(dir.resolve("vs"));
        Path xmlLv = guest(lv, NAME, 2);
        Path xmlVs = guest(vs, NAME, 2);
        Libvirt daemon = Libvirt.start(dir.resolve("libvirt"));
        libvirt = daemon;
        try (daemon; LiveDomain vmsnapSide = LiveDomain.home(vs, NAME)) {
            same(List.of("define", "SIDE/" + xmlLv.getFileName()));
            assertThat(xmlVs.getFileName()).isEqualTo(xmlLv.getFileName());

            // ---- shut off
            same("domstate", NAME, "--reason");
            same("dominfo", NAME);
            same("domid", NAME);
            same("list", "--all");
            same("domblklist", NAME);
            same("domblklist", NAME, "--details");
            // A disk-only snapshot of the shut-off domain: libvirt records the state "shutoff".
            same("snapshot-create-as", NAME, "off", "--disk-only",
                    "--diskspec", "vda,file=SIDE/vda.off", "--diskspec", "vdb,file=SIDE/vdb.off");
            assertThat(same("snapshot-info", NAME, "off").virsh.stdout).contains("State:          shutoff\n");
            sameSnapshotXml("off");

            // ---- running
            same("start", NAME);
            assertThat(sameError("start", NAME)).isEqualTo("vmsnap: Domain is already active");
            assertThat(same("domstate", NAME, "--reason").vmsnap.stdout).isEqualTo("running (booted)\n\n");
            same("domid", NAME);
            same("list");
            same("list", "--all", "--state-running", "--name");
            assertThat(same("dominfo", NAME).virsh.stdout)
                    .as("QEMU runs as root on both sides: libvirt's taint")
                    .contains("Messages:       tainted: running with undesirable elevated privileges\n");
            same("domblklist", NAME);
            TestGuest.awaitSerial(lv.resolve("serial.log"), 0, TestGuest.READY_LINE, BOOT);
            TestGuest.awaitSerial(vs.resolve("serial.log"), 0, TestGuest.READY_LINE, BOOT);

            same("suspend", NAME);
            same("suspend", NAME);
            same("domstate", NAME, "--reason");
            same("dominfo", NAME);
            same("list", "--state-paused", "--name");
            // The agent cannot answer a paused guest: libvirt says the domain is not running, first.
            sameError("domfsfreeze", NAME);
            sameError("domfsinfo", NAME);
            sameError("snapshot-create-as", NAME, "q", "--disk-only", "--quiesce");
            same("resume", NAME);
            sameError("resume", NAME);
            same("domstate", NAME, "--reason");

            awaitAgent();
            assertThat(same("domfsinfo", NAME).vmsnap.stdout).as("mount order, as libvirt lists it")
                    .contains(" /data        vda    ext4   vda\n /data2       vdb    ext4   vdb\n");
            same("domfsfreeze", NAME);
            sameError("domfsfreeze", NAME);
            sameError("domfsinfo", NAME);
            same("domfsthaw", NAME);
            same("domfsthaw", NAME);
            same("domfsfreeze", NAME, "--mountpoint", "/data2");
            sameError("domfsthaw", NAME, "--mountpoint", "/data2");
            same("domfsthaw", NAME);

            // ---- live external disk-only snapshots of both disks
            same("snapshot-create-as", NAME, "s1", "--disk-only", "--atomic",
                    "--diskspec", "vda,file=SIDE/vda.s1", "--diskspec", "vdb,file=SIDE/vdb.s1");
            same("snapshot-create-as", NAME, "s2", "--disk-only", "--atomic", "--quiesce",
                    "--diskspec", "vda,file=SIDE/vda.s2", "--diskspec", "vdb,file=SIDE/vdb.s2");
            same("snapshot-create-as", NAME, "s3", "--disk-only", "--description", "default overlay names");
            same("snapshot-list", NAME);
            same("snapshot-list", NAME, "--tree");
            same("snapshot-list", NAME, "--parent");
            same("snapshot-list", NAME, "--disk-only", "--name");
            same("snapshot-list", NAME, "--inactive", "--name");
            same("snapshot-current", NAME, "--name");
            same("snapshot-parent", NAME, "s2");
            same("snapshot-create-as", NAME, "p", "--disk-only", "--print-xml", "--description", "not made",
                    "--diskspec", "vda,file=SIDE/vda.p", "--diskspec", "vdb,snapshot=no");
            same("domstate", NAME);
            same("list", "--all", "--name");
            for (String s : List.of("off", "s1", "s2", "s3")) {
                same("snapshot-info", NAME, s);
                sameSnapshotXml(s);
            }
            same("snapshot-info", NAME, "--current");
            same("domblklist", NAME);
            assertThat(Files.getPosixFilePermissions(vs.resolve("vda.s1")))
                    .isEqualTo(Files.getPosixFilePermissions(lv.resolve("vda.s1")));
            sameChains(5); // base <- off <- s1 <- s2 <- s3, read while QEMU holds them (-U)

            // ---- live delete: the leaf (an active commit in both), then one inside the chain
            same("snapshot-create-as", NAME, "s4", "--disk-only");
            same("domblklist", NAME);
            same("snapshot-delete", NAME, "s4");
            merged("s3", "s4");
            same("snapshot-current", NAME, "--name");
            same("domblklist", NAME);
            sameChains(5);
            same("snapshot-delete", NAME, "s2");
            merged("s1", "s2");
            same("snapshot-list", NAME, "--tree");
            same("snapshot-list", NAME, "--parent");
            same("domblklist", NAME);
            sameChains(4);
            for (String disk : List.of("vda", "vdb")) {
                // s1's metadata names the file that holds its overlay now, whichever stayed
                assertThat(vmsnap("snapshot-dumpxml", NAME, "s1").stdout).containsPattern(
                        "<source file='" + Pattern.quote(vs.toString()) + "/" + disk + "\\.s[12]'/>");
            }

            // ---- what libvirt refuses
            sameError("snapshot-create-as", "nosuch", "x", "--disk-only");
            sameError("snapshot-create-as", NAME, "s1", "--disk-only",
                    "--diskspec", "vda,file=SIDE/vda.again", "--diskspec", "vdb,file=SIDE/vdb.again");
            sameError("snapshot-info", NAME, "nosuch");
            sameError("snapshot-dumpxml", NAME, "nosuch");
            sameError("domfsinfo", "nosuch");
            // On purpose: libvirt 9.0 refuses an internal disk-only snapshot of a running domain;
            // QEMU 7.2 does it without pausing the guest, and vmsnap does.
            Both internal = both(List.of("snapshot-create-as", NAME, "i1", "--disk-only",
                    "--diskspec", "vda,snapshot=internal", "--diskspec", "vdb,snapshot=no"));
            assertThat(internal.virsh.exit).as(internal.describe()).isNotZero();
            assertThat(internal.virsh.stderr).isEqualTo("error: unsupported configuration: active qemu domains require"
                    + " external disk snapshots; disk vda requested internal\n");
            assertThat(internal.vmsnap.exit).as(internal.describe()).isZero();
            assertThat(internal.vmsnap.stdout).isEqualTo("Domain snapshot i1 created\n");
            assertThat(vmsnap("snapshot-info", NAME, "i1").stdout).contains("State:          disk-snapshot\n")
                    .contains("Location:       internal\n");
            vmsnap("snapshot-delete", NAME, "i1"); // the two trees are the same again

            agentlessDomain();

            // ---- destroy, and the chains the snapshots left
            same("destroy", NAME);
            assertThat(same("domstate", NAME, "--reason").virsh.stdout).isEqualTo("shut off (destroyed)\n\n");
            same("domid", NAME);
            same("list", "--all");
            same("domblklist", NAME);
            same("snapshot-list", NAME, "--tree");
            sameError("destroy", NAME);
            sameChains(4);
        }
    }

    /** Each disk's chain (qemu-img info --backing-chain) is the same on both sides: files, formats, links. */
    private void sameChains(int depth) {
        for (String disk : List.of("vda", "vdb")) {
            Path top = Path.of(vmsnap("domblklist", NAME).stdout.lines().filter(l -> l.startsWith(" " + disk + " "))
                    .findFirst().orElseThrow().substring(1 + disk.length()).strip());
            Path topLv = Path.of(normal(top.toString(), vs).replace("SIDE", lv.toString()));
            assertThat(chainShape(top, vs)).as("the chain of " + disk).isEqualTo(chainShape(topLv, lv)).hasSize(depth);
        }
    }

    /**
     * After the delete of a snapshot that froze DISK.{@code frozen} and made DISK.{@code overlay}:
     * libvirt 9.0 always commits the overlay down and keeps DISK.frozen; vmsnap merges in the
     * direction that moves fewer bytes (README), so it may stream DISK.frozen up into
     * DISK.overlay and keep that one: the same chain and data under another name, which the
     * comparisons from here on read as libvirt's.
     */
    private void merged(String frozen, String overlay) {
        for (String disk : List.of("vda", "vdb")) {
            assertThat(lv.resolve(disk + "." + frozen)).exists();
            assertThat(lv.resolve(disk + "." + overlay)).doesNotExist();
            boolean keptFrozen = Files.exists(vs.resolve(disk + "." + frozen));
            boolean keptOverlay = Files.exists(vs.resolve(disk + "." + overlay));
            assertThat(keptFrozen ^ keptOverlay).as("vmsnap keeps one of %s.%s and %s.%s", disk, frozen, disk, overlay)
                    .isTrue();
            if (keptOverlay) {
                renames.put("SIDE/" + disk + "." + overlay, "SIDE/" + disk + "." + frozen);
            }
            System.out.printf("LibvirtCompareIT: delete of the snapshot that made %s.%s: vmsnap kept %s.%s%n", disk,
                    overlay, disk, keptOverlay ? overlay : frozen);
        }
    }

    /**
     * A second domain without a guest agent channel and with a {@code <qemu:commandline>} (an
     * extra QMP monitor, as the benchmarks use): libvirt's taints, its refusals of agent commands
     * and of --quiesce, an internal snapshot of the shut-off domain and a revert to it while it
     * runs, and undefine of a running domain, which vmsnap refuses on purpose.
     */
    private void agentlessDomain() throws IOException {
        for (Path side : List.of(lv, vs)) {
            Path disk = side.resolve("na.qcow2");
            TestGuest.createDataDisk(disk, 16);
            String xml = TestGuest.get().domainXml("na", List.of(disk), side.resolve("na-serial.log"));
            xml = xml.replaceAll("(?s)\\s*<channel type='unix'>.*?</channel>", "")
                    .replace("<domain type='qemu'>", "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
                    .replace("</devices>\n", "</devices>\n  <qemu:commandline>\n    <qemu:arg value='-qmp'/>\n"
                            + "    <qemu:arg value='unix:" + side.resolve("na-monitor.sock") + ",server=on,wait=off'/>\n"
                            + "  </qemu:commandline>\n");
            assertThat(xml).doesNotContain("guest_agent").contains("qemu:commandline");
            Files.writeString(side.resolve("na.xml"), xml);
        }
        same("define", "SIDE/na.xml");
        try {
            agentlessDomainDefined();
        } finally {
            Cli.run("destroy", "na"); // whatever failed, no QEMU of this test stays
        }
    }

    private void agentlessDomainDefined() {
        same("snapshot-create-as", "na", "int1"); // internal, of the shut-off domain: libvirt does it too
        assertThat(same("snapshot-info", "na", "int1").virsh.stdout).contains("Location:       internal\n");
        same("list", "--all");
        same("start", "na");
        same("list", "--all");
        same("list", "--id");
        same("list", "--all", "--id");
        same("list", "--all", "--id", "--name");
        same("list", "--all", "--uuid", "--id", "--name");
        assertThat(same("dominfo", "na").virsh.stdout).contains(
                "Messages:       tainted: custom configuration parameters specified\n"
                        + "                tainted: running with undesirable elevated privileges\n");
        assertThat(sameError("snapshot-create-as", "na", "q", "--disk-only", "--quiesce"))
                .isEqualTo("vmsnap: argument unsupported: QEMU guest agent is not configured");
        sameError("domfsfreeze", "na");
        sameError("domfsthaw", "na");
        sameError("domfsinfo", "na");
        // A revert stops the running domain: libvirt's reason for that is "from snapshot".
        same("snapshot-revert", "na", "int1");
        assertThat(same("domstate", "na", "--reason").virsh.stdout).isEqualTo("shut off (from snapshot)\n\n");
        sameError("destroy", "na");
        sameError("domfsfreeze", "na");
        same("start", "na");
        // On purpose: libvirt makes a running domain transient; vmsnap keeps no transient domains.
        Both undefine = both(List.of("undefine", "na"));
        assertThat(undefine.virsh.exit).as(undefine.describe()).isZero();
        assertThat(undefine.virsh.stdout).isEqualTo("Domain 'na' has been undefined\n\n");
        assertThat(undefine.vmsnap.exit).as(undefine.describe()).isNotZero();
        assertThat(undefine.vmsnap.stderr).isEqualTo("vmsnap: Failed to undefine domain 'na': Requested operation is"
                + " not valid: domain na is running; destroy it or shut it down first (vmsnap keeps no transient"
                + " domains)\n");
        same("destroy", "na");
        vmsnap("undefine", "na", "--snapshots-metadata");
    }

    /** The guest's disks and XML in {@code side}: the same names on both sides. */
    private static Path guest(Path side, String name, int disks) throws IOException {
        List<Path> images = new ArrayList<>();
        for (int i = 0; i < disks; i++) {
            Path disk = side.resolve("vd" + (char) ('a' + i) + ".qcow2");
            TestGuest.createDataDisk(disk, 32);
            images.add(disk);
        }
        Path xml = side.resolve(name + ".xml");
        Files.writeString(xml, TestGuest.get().domainXml(name, images, side.resolve("serial.log")));
        return xml;
    }

    /** Both sides' agents answer (libvirt connects to its agent some time after the guest runs). */
    private void awaitAgent() throws InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (true) {
            Both b = both(List.of("domfsinfo", NAME));
            if (b.virsh.exit == 0 && b.vmsnap.exit == 0 && b.virsh.stdout.contains("/data2")
                    && b.vmsnap.stdout.contains("/data2")) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the guest agents did not answer within " + BOOT + "\n" + b.describe());
            }
            Thread.sleep(500);
        }
    }

    // ---------------------------------------------------------------- running both sides

    private Both same(String... args) {
        return same(List.of(args));
    }

    /** Both succeed and print the same (normalised). */
    private Both same(List<String> args) {
        Both b = both(args);
        assertThat(b.virsh.exit).as("virsh failed:\n" + b.describe()).isZero();
        assertThat(b.vmsnap.exit).as("vmsnap failed:\n" + b.describe()).isZero();
        assertThat(normal(b.vmsnap.stdout, vs)).as(b.describe()).isEqualTo(normal(b.virsh.stdout, lv));
        return b;
    }

    /** Both refuse, with the same words: virsh's error lines joined into vmsnap's one line. */
    private String sameError(String... args) {
        Both b = both(List.of(args));
        assertThat(b.virsh.exit).as("virsh should fail:\n" + b.describe()).isNotZero();
        assertThat(b.vmsnap.exit).as("vmsnap should fail:\n" + b.describe()).isNotZero();
        String virshLine = "vmsnap: " + String.join(": ", b.virsh.stderr.lines().map(l -> l.replaceFirst("^error: ", ""))
                .toList());
        assertThat(b.vmsnap.stderr.lines()).as("one line:\n" + b.describe()).hasSize(1);
        assertThat(normal(b.vmsnap.stderr.strip(), vs)).as(b.describe()).isEqualTo(normal(virshLine, lv));
        assertThat(b.vmsnap.stdout).as(b.describe()).isEqualTo(b.virsh.stdout);
        return b.vmsnap.stderr.strip();
    }

    /** snapshot-dumpxml: the snapshot's own elements are the same; its {@code <domain>} copy is not (README). */
    private void sameSnapshotXml(String snapshot) {
        Both b = both(List.of("snapshot-dumpxml", NAME, snapshot));
        assertThat(b.virsh.exit).as(b.describe()).isZero();
        assertThat(b.vmsnap.exit).as(b.describe()).isZero();
        assertThat(snapshotPart(b.vmsnap.stdout, vs)).as(b.describe()).isEqualTo(snapshotPart(b.virsh.stdout, lv))
                .contains("<name>" + snapshot + "</name>");
    }

    private String snapshotPart(String xml, Path side) {
        return normal(xml, side).replaceAll("<creationTime>\\d+</creationTime>", "<creationTime>T</creationTime>")
                .replaceAll("(?s)\\n *<domain .*?</domain>", "")
                .replaceAll("(?s)\\n *<inactiveDomain .*?</inactiveDomain>", "");
    }

    private Both both(List<String> args) {
        QemuTools.Result r = libvirt.virsh(args.stream().map(a -> a.replace("SIDE", lv.toString())).toArray(String[]::new));
        Cli.Run v = Cli.run(args.stream().map(a -> a.replace("SIDE", vs.toString())).toArray(String[]::new));
        return new Both(args, new Out(r.exitCode(), r.stdout(), r.stderr()), new Out(v.exitCode(), v.out(), v.err()));
    }

    private Out vmsnap(String... args) {
        Cli.Run v = Cli.run(args);
        assertThat(v.exitCode()).as("vmsnap %s: %s", String.join(" ", args), v.err()).isZero();
        return new Out(v.exitCode(), v.out(), v.err());
    }

    /** What must differ: the side's folder, UUIDs, creation times, CPU time; vmsnap's merged names. */
    private String normal(String text, Path side) {
        String s = text.replace(side.toString(), "SIDE");
        if (side.equals(vs)) {
            for (Map.Entry<String, String> r : renames.entrySet()) {
                s = s.replaceAll(Pattern.quote(r.getKey()) + "(?![0-9])", Matcher.quoteReplacement(r.getValue()));
            }
        }
        s = s.replaceAll("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID");
        s = s.replaceAll("(?m)^(CPU time: +)[0-9.]+s$", "$1Ns");
        Matcher m = SNAPSHOT_TIME.matcher(s);
        return m.replaceAll("TIME");
    }

    /**
     * The shape of a disk's chain ({@code qemu-img info --backing-chain}): per image, top first,
     * its file (relative to the side's folder), format and backing file.
     */
    private List<String> chainShape(Path top, Path side) {
        QemuTools.Result r = QemuTools.run(List.of(QemuTools.qemuImg().toString(), "info", "--backing-chain", "-U",
                top.toString())).requireSuccess();
        List<String> out = new ArrayList<>();
        String image = null;
        String format = null;
        String backing = "-";
        for (String line : (r.stdout() + "\n").lines().toList()) {
            if (line.startsWith("image: ")) {
                image = line.substring(7);
            } else if (line.startsWith("file format: ")) {
                format = line.substring(13);
            } else if (line.startsWith("backing file format: ")) {
                format += " over " + line.substring(21);
            } else if (line.startsWith("backing file: ")) {
                backing = line.substring(14).replaceFirst(" \\(actual path: .*\\)$", "");
            } else if (line.isEmpty() && image != null) {
                out.add(normal(image, side) + " " + format + " <- " + normal(backing, side));
                image = null;
                backing = "-";
            }
        }
        if (image != null) {
            out.add(normal(image, side) + " " + format + " <- " + normal(backing, side));
        }
        return out;
    }
}
