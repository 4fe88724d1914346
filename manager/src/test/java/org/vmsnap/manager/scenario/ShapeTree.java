package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.manager.xml.SnapshotMode;

/**
 * The tree the delete tests start from, of internal snapshots only, external only, or both mixed
 * (also within one snapshot):
 *
 * <pre>
 * s1 - s2 + s3 - s4
 *         + b1 - b2
 *         + c1 (current; the disks have changed since)
 * </pre>
 */
final class ShapeTree {
    enum Kind {
        INTERNAL, EXTERNAL, MIXED
    }

    private ShapeTree() {
    }

    static ScenarioFixture build(Path root, Kind kind) throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(root);
        snap(f, kind, "s1", I, I);
        snap(f, kind, "s2", E, E);
        snap(f, kind, "s3", I, E);
        snap(f, kind, "s4", I, I);
        f.revert("s2");
        snap(f, kind, "b1", E, I);
        snap(f, kind, "b2", E, E);
        f.revert("s2");
        snap(f, kind, "c1", I, I);
        f.fill();
        f.verify();
        assertThat(f.model.children("s2")).containsExactly("s3", "b1", "c1");
        return f;
    }

    /** fill, then a snapshot: all internal, all external, or with the given modes for MIXED. */
    private static void snap(ScenarioFixture f, Kind kind, String name, SnapshotMode a, SnapshotMode b)
            throws IOException {
        f.fill();
        switch (kind) {
            case INTERNAL -> f.create(name, NONE);
            case EXTERNAL -> f.create(name, DISK_ONLY);
            case MIXED -> f.create(name, NONE, a, b);
        }
    }
}
