package org.vmsnap.qcow2.engine;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The check's in-memory refcount table (QEMU's "IMRT"): how many references to each host
 * cluster the metadata walk found, for cluster indices {@code 0 .. size()-1}.
 *
 * <p>Compact because an image of 100 GiB with 512-byte clusters has 200 M clusters: counts
 * live in pages of {@value #PAGE_CLUSTERS} clusters, allocated only when a count in them
 * becomes non-zero; a page starts as one byte per cluster and widens to an int per cluster
 * only when a count passes 255; counts past {@code Integer.MAX_VALUE - 1} (possible only with
 * 64-bit refcounts and hostile sharing) go to a map. A typical image costs one byte per used
 * cluster.
 *
 * <p>Counts saturate at the image's largest refcount, as QEMU's check does: an increment that
 * would pass it is refused and reported back as an overflow.
 */
final class ReferenceCounter {

    private static final int PAGE_BITS = 16;
    /** Clusters per page: 64 Ki, so a byte page is 64 KiB. */
    static final int PAGE_CLUSTERS = 1 << PAGE_BITS;
    private static final int PAGE_MASK = PAGE_CLUSTERS - 1;
    /** Marks an int cell whose count lives in {@link #huge}. */
    private static final int IN_MAP = -1;

    /** QEMU refuses to check files of more clusters than this (it keeps an int index). */
    static final long MAX_CLUSTERS = Integer.MAX_VALUE;

    private final long maxCount;
    private long size;
    /** Each page is null (all zero), a byte[] or an int[]. */
    private Object[] pages;
    private final Map<Long, Long> huge = new HashMap<>();

    /**
     * @param size     clusters tracked at first (the file's length in clusters)
     * @param maxCount the largest refcount the image can store (2^refcount_bits - 1)
     */
    ReferenceCounter(long size, long maxCount) {
        if (size < 0 || size > MAX_CLUSTERS) {
            throw new IllegalArgumentException("cluster count " + size + " outside 0.." + MAX_CLUSTERS);
        }
        this.maxCount = maxCount;
        this.size = size;
        this.pages = new Object[pageCount(size)];
    }

    private static int pageCount(long clusters) {
        return (int) ((clusters + PAGE_CLUSTERS - 1) >>> PAGE_BITS);
    }

    /** Clusters tracked (QEMU's nb_clusters). */
    long size() {
        return size;
    }

    long maxCount() {
        return maxCount;
    }

    /** Grows the table to {@code newSize} clusters (new ones count zero); never shrinks. */
    void resize(long newSize) {
        if (newSize > MAX_CLUSTERS) {
            throw new IllegalArgumentException("cluster count " + newSize + " exceeds " + MAX_CLUSTERS);
        }
        if (newSize <= size) {
            return;
        }
        int pc = pageCount(newSize);
        if (pc > pages.length) {
            pages = Arrays.copyOf(pages, pc);
        }
        size = newSize;
    }

    /** Sets every count to zero, keeping the size. */
    void clear() {
        Arrays.fill(pages, null);
        huge.clear();
    }

    /** The count of cluster {@code index}; zero outside the table. */
    long get(long index) {
        if (index < 0 || index >= size) {
            return 0;
        }
        Object page = pages[(int) (index >>> PAGE_BITS)];
        int cell = (int) (index & PAGE_MASK);
        if (page == null) {
            return 0;
        }
        if (page instanceof byte[] b) {
            return b[cell] & 0xff;
        }
        int v = ((int[]) page)[cell];
        return v == IN_MAP ? huge.get(index) : v;
    }

    /** Sets the count of a cluster inside the table. */
    void set(long index, long value) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException("cluster " + index + " outside 0.." + (size - 1));
        }
        int p = (int) (index >>> PAGE_BITS);
        int cell = (int) (index & PAGE_MASK);
        Object page = pages[p];
        if (page == null) {
            if (value == 0) {
                return;
            }
            page = value <= 0xff ? new byte[PAGE_CLUSTERS] : new int[PAGE_CLUSTERS];
            pages[p] = page;
        }
        if (page instanceof byte[] b) {
            if (value <= 0xff) {
                b[cell] = (byte) value;
                return;
            }
            page = widen(p, b);
        }
        int[] ints = (int[]) page;
        if (ints[cell] == IN_MAP) {
            huge.remove(index);
        }
        if (value < Integer.MAX_VALUE) {
            ints[cell] = (int) value;
        } else {
            ints[cell] = IN_MAP;
            huge.put(index, value);
        }
    }

    private int[] widen(int p, byte[] b) {
        int[] ints = new int[PAGE_CLUSTERS];
        for (int i = 0; i < PAGE_CLUSTERS; i++) {
            ints[i] = b[i] & 0xff;
        }
        pages[p] = ints;
        return ints;
    }

    /**
     * Adds {@code n} references to a cluster inside the table, growing it first when the
     * cluster lies past its end. Like QEMU, each reference that would push the count past the
     * largest storable refcount is refused.
     *
     * @return how many of the {@code n} references were refused (0 normally)
     */
    long add(long index, long n) {
        if (index >= size) {
            resize(index + 1);
        }
        long current = get(index);
        long room = maxCount - current;
        long accepted = Math.min(n, room);
        if (accepted > 0) {
            set(index, current + accepted);
        }
        return n - Math.max(accepted, 0);
    }

    /** Bytes a table of {@code clusters} clusters needs in the worst ordinary case (one byte each). */
    static long estimatedBytes(long clusters) {
        return clusters;
    }
}
