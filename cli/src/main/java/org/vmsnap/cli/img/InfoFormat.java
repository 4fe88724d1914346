package org.vmsnap.cli.img;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

import org.vmsnap.cli.format.CFormat;
import org.vmsnap.cli.format.QemuJson;
import org.vmsnap.qcow2.ImageInfo;
import org.vmsnap.qcow2.SnapshotInfo;

/** qemu-img info's two layouts. Members are added in QAPI schema order (see {@link QemuJson}). */
final class InfoFormat {

    private static final DateTimeFormatter SNAPSHOT_DATE =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT);

    private InfoFormat() {
    }

    /** The ImageInfo object of {@code --output=json}. */
    static QemuJson json(ImageInfo info) {
        QemuJson o = new QemuJson()
                .put("filename", info.filename())
                .put("format", info.format())
                .put("dirty-flag", info.dirtyFlag())
                .putIf(info.actualSizeBytes() >= 0, "actual-size", info.actualSizeBytes())
                .put("virtual-size", info.virtualSizeBytes())
                .putIf(info.clusterSizeBytes() > 0, "cluster-size", info.clusterSizeBytes())
                .putIf(info.backingFilename() != null, "backing-filename", info.backingFilename())
                .putIf(info.fullBackingFilename() != null, "full-backing-filename", info.fullBackingFilename())
                .putIf(info.backingFilenameFormat() != null, "backing-filename-format", info.backingFilenameFormat());
        if (!info.snapshots().isEmpty()) {
            o.put("snapshots", info.snapshots().stream().map(InfoFormat::json).toList());
        }
        if (info.qcow2() != null) {
            o.put("format-specific", new QemuJson().put("type", "qcow2").put("data", formatSpecific(info.qcow2())));
        }
        return o;
    }

    /** {@code --backing-chain --output=json}: a list, top image first. */
    static String json(List<ImageInfo> chain) {
        return QemuJson.toPrettyString(chain.stream().map(InfoFormat::json).toList());
    }

    static QemuJson json(SnapshotInfo s) {
        return new QemuJson()
                .put("id", s.id())
                .put("name", s.name())
                .put("vm-state-size", s.vmStateSize())
                .put("date-sec", s.dateSec())
                .put("date-nsec", (long) s.dateNsec())
                .put("vm-clock-sec", s.vmClockNsec() / 1_000_000_000L)
                .put("vm-clock-nsec", s.vmClockNsec() % 1_000_000_000L)
                .putIf(s.icount() != -1, "icount", s.icount());
    }

    /** ImageInfoSpecificQCow2: version 3 adds the feature flags. */
    static QemuJson formatSpecific(ImageInfo.Qcow2Specific q) {
        boolean v3 = !"0.10".equals(q.compat());
        QemuJson data = new QemuJson().put("compat", q.compat());
        if (v3) {
            data.put("extended-l2", q.extendedL2())
                    .put("lazy-refcounts", q.lazyRefcounts())
                    .put("corrupt", q.corrupt());
        }
        data.put("refcount-bits", (long) q.refcountBits());
        // QEMU names zlib for version 2 images too: it is the only type they can have.
        data.put("compression-type", q.compressionType() != null ? q.compressionType() : "zlib");
        return data;
    }

    /** The human layout, ending with a newline. */
    static String human(ImageInfo info) {
        StringBuilder sb = new StringBuilder();
        sb.append("image: ").append(info.filename()).append('\n');
        sb.append("file format: ").append(info.format()).append('\n');
        sb.append("virtual size: ").append(CFormat.sizeToStr(info.virtualSizeBytes()))
                .append(" (").append(info.virtualSizeBytes()).append(" bytes)\n");
        sb.append("disk size: ").append(info.actualSizeBytes() >= 0 ? CFormat.sizeToStr(info.actualSizeBytes())
                : "unavailable").append('\n');
        if (info.clusterSizeBytes() > 0) {
            sb.append("cluster_size: ").append(info.clusterSizeBytes()).append('\n');
        }
        if (info.dirtyFlag()) {
            // QEMU's words for the dirty bit (JSON: "dirty-flag": true).
            sb.append("cleanly shut down: no\n");
        }
        if (info.backingFilename() != null) {
            sb.append("backing file: ").append(info.backingFilename());
            if (info.fullBackingFilename() != null && !info.fullBackingFilename().equals(info.backingFilename())) {
                sb.append(" (actual path: ").append(info.fullBackingFilename()).append(')');
            }
            sb.append('\n');
        }
        if (info.backingFilenameFormat() != null) {
            sb.append("backing file format: ").append(info.backingFilenameFormat()).append('\n');
        }
        if (!info.snapshots().isEmpty()) {
            sb.append("Snapshot list:\n");
            sb.append(snapshotHeader()).append('\n');
            for (SnapshotInfo s : info.snapshots()) {
                sb.append(snapshotRow(s, ZoneId.systemDefault())).append('\n');
            }
        }
        if (info.qcow2() != null) {
            sb.append("Format specific information:\n");
            dumpHuman(sb, formatSpecific(info.qcow2()), 1);
        }
        return sb.toString();
    }

    /** QEMU's generic QAPI dump: keys with spaces for dashes, nested values indented below. */
    private static void dumpHuman(StringBuilder sb, QemuJson object, int depth) {
        for (var member : object.membersInOrder()) {
            sb.append("    ".repeat(depth)).append(member.getKey().replace('-', ' ')).append(':');
            Object value = member.getValue();
            if (value instanceof QemuJson nested) {
                sb.append('\n');
                dumpHuman(sb, nested, depth + 1);
            } else {
                sb.append(' ').append(value).append('\n');
            }
        }
    }

    static String snapshotHeader() {
        return CFormat.padRight("ID", 10) + CFormat.padRight("TAG", 17) + CFormat.padLeft("VM SIZE", 8)
                + CFormat.padLeft("DATE", 20) + CFormat.padLeft("VM CLOCK", 13) + CFormat.padLeft("ICOUNT", 11);
    }

    static String snapshotRow(SnapshotInfo s, ZoneId zone) {
        String date = SNAPSHOT_DATE.format(Instant.ofEpochSecond(s.dateSec()).atZone(zone));
        long secs = s.vmClockNsec() / 1_000_000_000L;
        String clock = String.format(Locale.ROOT, "%02d:%02d:%02d.%03d",
                secs / 3600, (secs / 60) % 60, secs % 60, (s.vmClockNsec() / 1_000_000L) % 1000);
        String icount = s.icount() != -1 ? Long.toString(s.icount()) : "";
        return CFormat.padRight(s.id(), 9) + " " + CFormat.padRight(s.name(), 16) + " "
                + CFormat.padLeft(CFormat.sizeToStr(s.vmStateSize()), 8) + CFormat.padLeft(date, 20)
                + CFormat.padLeft(clock, 13) + CFormat.padLeft(icount, 11);
    }
}
