package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.io.BlockStore;

/** The refcount walk of a read-write open (skipped for files {@code VerifiedImages} vouches for). */
final class WriteOpenCheck {
    private static final AtomicLong WRITE_CHECKS = new AtomicLong();

    private WriteOpenCheck() {
    }

    /**
     * Before the first write (after the tables were found not to overlap): a cluster in use
     * whose refcount is too low would be handed out again by the allocator and its data
     * overwritten. QEMU does not look; vmsnap walks the metadata once and refuses to write
     * such an image. Leaks are harmless and allowed, as QEMU writes them too: also a refcount
     * too high on a cluster in use, which makes its COPIED flag look wrong.
     */
    static void refuseInconsistentRefcounts(BlockStore store, OverlapGuard guard, Geometry g) throws IOException {
        WRITE_CHECKS.incrementAndGet();
        Path file = store.path();
        ImageChecker.WriteCheck check = ImageChecker.checkBeforeWriting(store);
        CheckResult r = check.result();
        if (r.corruptions() > check.harmlessCorruptions() || r.failed()) {
            // An under-counted cluster that holds metadata is an overlap: name that cause.
            for (long cluster : check.underCounted()) {
                OverlapGuard.Kind kind = guard.kindAt(cluster);
                if (kind != null) {
                    throw new CorruptImageException(file, "L2 table", g.clusterOffset(cluster), "cluster "
                            + cluster + " holds the " + kind.label + " and is also referenced as "
                            + "guest data (overlap); not opened for writing (see 'vmsnap img check')");
                }
            }
            // For the reader: the checker's first finding that is not a leak.
            String first = r.messages().stream().filter(l -> l.startsWith("ERROR")).findFirst()
                    .orElse(r.messages().isEmpty() ? "" : r.messages().getFirst());
            throw new CorruptImageException(file, "refcount table", -1, r.corruptions()
                    + " refcount errors" + (first.isEmpty() ? "" : " (first: " + first + ")") + "; writing could overwrite data in use, so the image is"
                    + " not opened for writing (repair it with 'vmsnap img check -r all')");
        }
    }

    /** Full refcount walks made by read-write opens in this process so far (for tests). */
    static long writeChecks() {
        return WRITE_CHECKS.get();
    }
}
