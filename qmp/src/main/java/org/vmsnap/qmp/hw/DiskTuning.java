package org.vmsnap.qmp.hw;

/**
 * How QEMU does a disk's I/O; null means QEMU's default.
 *
 * @param cache        libvirt's cache modes, mapped as libvirt maps them (write cache, O_DIRECT, flushes)
 * @param discard      whether guest discards free space in the image
 * @param aio          QEMU's I/O engine; {@code native} needs O_DIRECT (cache none or directsync)
 * @param detectZeroes whether written zeros become zero clusters (unmap: and are discarded)
 */
public record DiskTuning(Cache cache, Discard discard, Aio aio, DetectZeroes detectZeroes) {

    public static final DiskTuning DEFAULT = new DiskTuning(null, null, null, null);

    public enum Cache {
        NONE(true, true, false), WRITETHROUGH(false, false, false), WRITEBACK(true, false, false),
        DIRECTSYNC(false, true, false), UNSAFE(true, false, true);

        public final boolean writeCache;
        public final boolean direct;
        public final boolean noFlush;

        Cache(boolean writeCache, boolean direct, boolean noFlush) {
            this.writeCache = writeCache;
            this.direct = direct;
            this.noFlush = noFlush;
        }
    }

    public enum Discard { UNMAP, IGNORE }

    public enum Aio { THREADS, NATIVE, IO_URING }

    public enum DetectZeroes { OFF, ON, UNMAP }

    public DiskTuning {
        if (aio == Aio.NATIVE && (cache == null || !cache.direct)) {
            throw new IllegalArgumentException("aio native needs cache none or directsync (O_DIRECT)");
        }
        if (detectZeroes == DetectZeroes.UNMAP && discard != Discard.UNMAP) {
            throw new IllegalArgumentException("detect-zeroes unmap needs discard unmap");
        }
    }
}
