package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Path;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/** In-memory images for engine tests: a store per layer, reopened as often as a test likes. */
final class MemoryImages {
    private MemoryImages() {
    }

    enum Backing { NONE, RAW, QCOW2 }

    /** One layer under test with its (optional) backing layer, all in memory. */
    static final class Layered {
        final MemoryBlockStore top = new MemoryBlockStore(Path.of("top.qcow2"));
        final MemoryBlockStore base;
        final Backing backing;
        final Qcow2CreateOptions options;

        Layered(Qcow2CreateOptions options, Backing backing, long backingSize) throws IOException {
            this.options = options;
            this.backing = backing;
            this.base = backing == Backing.NONE ? null
                    : new MemoryBlockStore(Path.of(backing == Backing.RAW ? "base.raw" : "base.qcow2"));
            if (backing == Backing.RAW) {
                base.truncate(backingSize);
            } else if (backing == Backing.QCOW2) {
                ImageCreator.create(base, Qcow2CreateOptions.ofSize(backingSize));
            }
            ImageCreator.create(top, backing == Backing.NONE ? options
                    : options.withBacking(base.path().toString(), backing == Backing.RAW ? "raw" : "qcow2"));
        }

        /** Opens the backing layer for writing, to give it data before the overlay is used. */
        BlockDevice openBaseForWriting() throws IOException {
            return backing == Backing.RAW ? new RawImage(base, false) : Qcow2Image.openStore(base, false, null);
        }

        Qcow2Image open() throws IOException {
            return open(false);
        }

        Qcow2Image open(boolean readOnly) throws IOException {
            BlockDevice b = switch (backing) {
                case NONE -> null;
                case RAW -> new RawImage(base, true);
                case QCOW2 -> Qcow2Image.openStore(base, true, null);
            };
            return Qcow2Image.openStore(top, readOnly, b);
        }

        BlockStore topStore() {
            return top;
        }
    }
}
