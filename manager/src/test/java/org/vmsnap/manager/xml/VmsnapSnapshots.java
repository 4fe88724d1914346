package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.List;

/**
 * Snapshots of the web01 fixture made the way vmsnap's create planner makes them (records, not
 * parsed XML), for checking that libvirt accepts what vmsnap writes.
 */
final class VmsnapSnapshots {
    static final Path IMAGES = Path.of("/var/lib/libvirt/images");

    private VmsnapSnapshots() {
    }

    /** web01 as libvirt keeps it inside a snapshot (its inactive definition). */
    static Domain web01() throws Exception {
        return SnapshotXml.parse(Fixtures.read("snapshot-internal.xml")).domain();
    }

    /**
     * s1: a shut-off domain, both writable disks internal, the read-only ones not snapshotted
     * (vmsnap's and libvirt's defaults); described with characters XML must escape.
     */
    static SnapshotDef internal() throws Exception {
        return internal(SnapshotMode.INTERNAL);
    }

    /** s1 with vdb (the raw disk) left out: what vmsnap does when asked for snapshot=no on it. */
    static SnapshotDef internalWithoutVdb() throws Exception {
        return internal(SnapshotMode.NO);
    }

    private static SnapshotDef internal(SnapshotMode vdb) throws Exception {
        return new SnapshotDef("s1", "vmsnap's first: <ok> & \"quoted\"\nsecond line", "shutoff", 1700000000L, null,
                SnapshotMode.NO, null, List.of(disk("vda", SnapshotMode.INTERNAL), disk("vdb", vdb),
                        disk("vdc", SnapshotMode.NO), disk("sda", SnapshotMode.NO)), web01());
    }

    /** s2 (child of s1): --disk-only, both writable disks get overlays <stem>.s2. */
    static SnapshotDef external() throws Exception {
        return new SnapshotDef("s2", null, "disk-snapshot", 1700000100L, "s1", SnapshotMode.NO, null,
                List.of(overlay("vda", "web01.s2"), overlay("vdb", "web01-data.s2"), disk("vdc", SnapshotMode.NO),
                        disk("sda", SnapshotMode.NO)), web01());
    }

    /** s3 (child of s2): vda internal in its overlay, vdb external again; the domain points at the s2 overlays. */
    static SnapshotDef mixed() throws Exception {
        Domain afterS2 = web01().withDisk("vda", IMAGES.resolve("web01.s2"), "qcow2")
                .withDisk("vdb", IMAGES.resolve("web01-data.s2"), "qcow2");
        return new SnapshotDef("s3", "mixed", "disk-snapshot", 1700000200L, "s2", SnapshotMode.NO, null,
                List.of(disk("vda", SnapshotMode.INTERNAL), overlay("vdb", "web01-data.s3"),
                        disk("vdc", SnapshotMode.NO), disk("sda", SnapshotMode.NO)), afterS2);
    }

    static List<SnapshotDef> chain() throws Exception {
        return List.of(internal(), external(), mixed());
    }

    private static SnapshotDisk disk(String target, SnapshotMode mode) {
        return new SnapshotDisk(target, mode, null, null);
    }

    private static SnapshotDisk overlay(String target, String file) {
        return new SnapshotDisk(target, SnapshotMode.EXTERNAL, IMAGES.resolve(file), "qcow2");
    }
}
