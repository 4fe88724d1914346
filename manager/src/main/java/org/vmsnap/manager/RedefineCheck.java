package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * snapshot-create --redefine trusts no path in the XML: every disk it names is a disk of the
 * domain, and every image it names is one of that disk's images (connected to its current image
 * by backing links), holding the internal snapshot it claims to hold. Otherwise a later revert
 * or delete would work on a file the domain never used.
 */
final class RedefineCheck {
    private RedefineCheck() {
    }

    static void check(PlanContext ctx, SnapshotDef s) throws IOException {
        for (SnapshotDisk d : s.disks()) {
            DiskDef now = ctx.before.domain.disk(d.name()).orElseThrow(() -> new InvalidInputException("snapshot "
                    + s.name() + ": domain " + ctx.before.domain.name() + " has no disk named '" + d.name() + "'"));
            if (d.mode() == SnapshotMode.NO || d.mode() == SnapshotMode.MANUAL) {
                continue;
            }
            DiskDef at = s.domain().disk(d.name()).orElseThrow(() -> new InvalidInputException("snapshot "
                    + s.name() + ": its domain copy has no disk '" + d.name() + "'"));
            Set<Path> family = ctx.graph().family(now.source());
            if (!family.contains(at.source())) {
                throw new InvalidInputException("snapshot " + s.name() + ": disk " + d.name() + ": " + at.source()
                        + " is not one of the disk's images (not in the backing chains of " + now.source() + ")");
            }
            if (d.mode() == SnapshotMode.INTERNAL && !ctx.graph().node(at.source()).internal.contains(s.name())) {
                throw new InvalidInputException("snapshot " + s.name() + ": disk " + d.name() + ": " + at.source()
                        + " holds no internal snapshot named '" + s.name() + "'");
            }
            if (d.mode() == SnapshotMode.EXTERNAL && d.source() != null && !family.contains(d.source())
                    && ctx.graph().exists(d.source())) {
                throw new InvalidInputException("snapshot " + s.name() + ": disk " + d.name() + ": overlay "
                        + d.source() + " is not one of the disk's images");
            }
        }
    }
}
