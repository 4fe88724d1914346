package org.vmsnap.cli.img;

import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;

/**
 * qemu-img's {@code -l snapshot_param} of convert: {@code snapshot.id=ID},
 * {@code snapshot.name=NAME} (both: the snapshot must match both), or a bare id-or-name
 * (id first, as QEMU's bdrv_snapshot_load_tmp_by_id_or_name).
 */
final class SnapshotParam {
    private SnapshotParam() {
    }

    /** The id of the snapshot the parameter names, or null when none matches. */
    static String resolve(Qcow2Image image, String param) {
        String id = null;
        String name = null;
        if (param.startsWith("snapshot.id=") || param.startsWith("snapshot.name=")) {
            for (String part : param.split(",")) {
                if (part.startsWith("snapshot.id=")) {
                    id = part.substring("snapshot.id=".length());
                } else if (part.startsWith("snapshot.name=")) {
                    name = part.substring("snapshot.name=".length());
                } else {
                    return null;
                }
            }
        } else {
            for (SnapshotInfo s : image.snapshots()) {
                if (s.id().equals(param)) {
                    return s.id();
                }
            }
            name = param;
        }
        for (SnapshotInfo s : image.snapshots()) {
            if ((id == null || s.id().equals(id)) && (name == null || s.name().equals(name))) {
                return s.id();
            }
        }
        return null;
    }
}
