package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.Images;

/**
 * Plans snapshot-create for a shut-off domain: every disk's internal snapshot or new overlay
 * (all reversible), then the metadata. Everything the user can get wrong is checked before the
 * first step, so that a failing step means a failing disk (full, locked, no permission) and the
 * runner undoes the disks done before it.
 */
final class CreatePlanner {
    private CreatePlanner() {
    }

    /**
     * The memory part of an external checkpoint, which the disks' snapshot joins (see
     * ExternalCheckpoints); {@code quiesced}: the guest's filesystems are frozen in it (--quiesce).
     */
    record Memory(Path file, String state, boolean quiesced) {
    }

    static SnapshotDef plan(PlanContext ctx, SnapshotDef request, CreateFlags flags, long nowSec)
            throws IOException {
        return plan(ctx, request, flags, nowSec, null);
    }

    /** With {@code memory}: the disks of an external checkpoint, recorded with its memory file and state. */
    static SnapshotDef plan(PlanContext ctx, SnapshotDef request, CreateFlags flags, long nowSec, Memory memory)
            throws IOException {
        DomainState st = ctx.after;
        String name = request.name() != null ? request.name() : Long.toString(nowSec);
        Names.checkSnapshotName(name);
        if (st.snapshots.containsKey(name)) {
            throw new InvalidInputException("operation failed: domain moment " + name + " already exists");
        }
        if (memory == null
                && (request.memoryMode() == SnapshotMode.INTERNAL || request.memoryMode() == SnapshotMode.EXTERNAL)) {
            throw new InvalidInputException("domain " + st.domain.name()
                    + " is not running: a memory snapshot needs a running domain (use --disk-only)");
        }
        Map<String, SnapshotDisk> modes = resolveModes(st.domain, request, flags, name);
        Domain domainAt = st.domain;
        Domain domainAfter = st.domain;
        List<SnapshotDisk> recorded = new ArrayList<>();
        for (DiskDef disk : st.domain.disks()) {
            SnapshotDisk m = modes.get(disk.target());
            if (!Files.isRegularFile(disk.source())) {
                if (m.mode() == SnapshotMode.NO) {
                    recorded.add(m);
                    continue;
                }
                throw new InvalidInputException("disk " + disk.target() + ": image " + disk.source()
                        + " does not exist");
            }
            switch (m.mode()) {
                case INTERNAL -> {
                    checkInternal(ctx, disk, name);
                    ctx.plan.add(new Step.CreateInternal(disk.target(), disk.source(), name));
                    recorded.add(new SnapshotDisk(disk.target(), SnapshotMode.INTERNAL, null, null));
                }
                case EXTERNAL -> {
                    Path overlay = m.source() != null ? m.source().toAbsolutePath().normalize()
                            : defaultOverlay(ctx, disk, name, flags.reuseExternal());
                    boolean reuse = checkExternal(ctx, disk, overlay, flags.reuseExternal());
                    ctx.plan.add(new Step.CreateOverlay(disk.target(), overlay, disk.source(), disk.format(),
                            reuse, ctx.partialFor(overlay)));
                    if (!reuse) {
                        st.owned.add(overlay);
                    }
                    ctx.graph().add(new ImageGraph.Node(overlay, "qcow2", disk.source(), disk.format(), 0));
                    domainAfter = domainAfter.withDisk(disk.target(), overlay, "qcow2");
                    recorded.add(new SnapshotDisk(disk.target(), SnapshotMode.EXTERNAL, overlay, "qcow2"));
                }
                default -> recorded.add(new SnapshotDisk(disk.target(), SnapshotMode.NO, null, null));
            }
        }
        // libvirt 9.0: the domain's state when the snapshot was taken, so "shutoff" for every
        // snapshot of a shut-off domain (--disk-only or not); "disk-snapshot" only while it runs.
        String state = memory != null ? memory.state() : ctx.live != null ? "disk-snapshot" : "shutoff";
        SnapshotDef made = new SnapshotDef(name, request.description(), state, nowSec,
                flags.noMetadata() ? null : st.current, memory != null ? SnapshotMode.EXTERNAL : SnapshotMode.NO,
                memory != null ? memory.file() : null, recorded, domainAt, memory != null ? memory.quiesced() : null);
        st.domain = domainAfter;
        if (!flags.noMetadata()) {
            st.snapshots.put(name, made);
            st.current = name;
        }
        ctx.finishWithMetadata();
        return made;
    }

    /** Each domain disk's mode: as requested (by target or by source path), else the default. */
    private static Map<String, SnapshotDisk> resolveModes(Domain domain, SnapshotDef request, CreateFlags flags,
            String name) throws InvalidInputException {
        Map<String, SnapshotDisk> out = new LinkedHashMap<>();
        for (SnapshotDisk asked : request.disks()) {
            DiskDef disk = domain.disks().stream()
                    .filter(d -> d.target().equals(asked.name()) || d.source().toString().equals(asked.name()))
                    .findFirst()
                    .orElseThrow(() -> new InvalidInputException("domain " + domain.name() + " has no disk named '"
                            + asked.name() + "'"));
            if (out.containsKey(disk.target())) {
                throw new InvalidInputException("disk " + disk.target() + " is named twice in the snapshot request");
            }
            SnapshotMode mode = asked.mode() != null ? asked.mode()
                    : asked.source() != null || flags.diskOnly() ? SnapshotMode.EXTERNAL : defaultMode(disk, flags);
            if (mode == SnapshotMode.MANUAL) {
                throw new InvalidInputException("disk " + disk.target()
                        + ": snapshot='manual' is for running domains only");
            }
            // An internal disk-only snapshot is vmsnap's: libvirt refuses it, QEMU does it in one
            // transaction with the external ones (blockdev-snapshot-internal-sync).
            if (asked.driverType() != null && !asked.driverType().equals("qcow2")) {
                throw new InvalidInputException("disk " + disk.target() + ": external snapshot format '"
                        + asked.driverType() + "' is not supported (qcow2 only)");
            }
            out.put(disk.target(), new SnapshotDisk(disk.target(), mode, asked.source(), asked.driverType()));
        }
        for (DiskDef disk : domain.disks()) {
            out.putIfAbsent(disk.target(), new SnapshotDisk(disk.target(), defaultMode(disk, flags), null, null));
        }
        return out;
    }

    private static SnapshotMode defaultMode(DiskDef disk, CreateFlags flags) {
        if (disk.readOnly() || !"disk".equals(disk.device())) {
            return SnapshotMode.NO;
        }
        return flags.diskOnly() ? SnapshotMode.EXTERNAL : SnapshotMode.INTERNAL;
    }

    private static void checkInternal(PlanContext ctx, DiskDef disk, String name) throws IOException {
        String actual = Images.probeFormat(disk.source());
        if (!disk.isQcow2() || !actual.equals("qcow2")) {
            throw new InvalidInputException("disk " + disk.target() + ": internal snapshot unsupported for storage"
                    + " type " + (disk.isQcow2() ? actual : disk.format()) + " (" + disk.source()
                    + "); use snapshot=external or snapshot=no for this disk");
        }
        ImageGraph.Node n = ctx.graph().node(disk.source());
        if (n != null && n.internal.contains(name)) {
            throw new InvalidInputException("disk " + disk.target() + ": " + disk.source()
                    + " already holds an internal snapshot named '" + name + "'");
        }
    }

    /**
     * The overlay's name when the request names none: the disk's stem and the snapshot name (as
     * virsh names it), with a counter if that is taken; with --reuse-external, virsh's name,
     * which must then exist.
     */
    private static Path defaultOverlay(PlanContext ctx, DiskDef disk, String name, boolean reuse)
            throws IOException {
        Path virsh = PlanContext.defaultOverlay(disk.source(), name);
        return reuse ? virsh : ctx.freshName(disk.source(), name);
    }

    /** Returns whether an existing file is reused. */
    private static boolean checkExternal(PlanContext ctx, DiskDef disk, Path overlay, boolean reuseExternal)
            throws IOException {
        if (overlay.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                > Names.MAX_NAME_BYTES) {
            throw new InvalidInputException("disk " + disk.target() + ": external file name " + overlay.getFileName()
                    + " is longer than " + Names.MAX_NAME_BYTES + " bytes (give a shorter file= in --diskspec)");
        }
        if (overlay.toString().chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new InvalidInputException("disk " + disk.target() + ": external file name " + overlay
                    + " contains a control character");
        }
        Path folder = overlay.getParent();
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("disk " + disk.target() + ": cannot create external file " + overlay
                    + ": " + (Files.exists(folder) ? folder + " is not a directory" : "no such directory " + folder));
        }
        if (!Files.isWritable(folder) && !(reuseExternal && Files.exists(overlay))) {
            throw new InvalidInputException("disk " + disk.target() + ": cannot create external file " + overlay
                    + ": permission denied (directory " + folder + " is not writable)");
        }
        if (ctx.after.namedFiles().contains(overlay) || ctx.graph().exists(overlay)) {
            throw new InvalidInputException("disk " + disk.target() + ": external file " + overlay
                    + " is already used by this domain");
        }
        if (!Files.exists(overlay, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return false; // made new, even with --reuse-external (as libvirt does)
        }
        if (!reuseExternal) {
            throw new InvalidInputException("disk " + disk.target() + ": external snapshot file " + overlay
                    + " already exists (use --reuse-external to reuse it)");
        }
        ImageGraph g = ImageGraph.read(List.of(overlay));
        ImageGraph.Node n = g.node(overlay.toAbsolutePath().normalize());
        if (n == null || !n.format.equals("qcow2") || !disk.source().equals(n.backing)) {
            throw new InvalidInputException("disk " + disk.target() + ": cannot reuse " + overlay
                    + ": it is not a qcow2 overlay of " + disk.source());
        }
        return true;
    }
}
