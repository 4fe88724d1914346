package org.vmsnap.qcow2;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An in-memory disk whose block status is scripted run by run, and which records every
 * write, so tests can see what convert and compare read and write.
 */
final class ScriptedDevice implements BlockDevice {

    record Op(String kind, long offset, long length) {
    }

    private final byte[] data;
    private final List<long[]> runs = new ArrayList<>();   // start, length, depth, flags
    final List<Op> ops = new ArrayList<>();
    final List<Long> reads = new ArrayList<>();

    static final int PRESENT = 1;
    static final int ZERO = 2;
    static final int DATA = 4;

    ScriptedDevice(int size) {
        this.data = new byte[size];
    }

    /** Declares the status of [start, start+length); undeclared ranges are unallocated zeros. */
    ScriptedDevice run(long start, long length, int depth, int flags) {
        runs.add(new long[] {start, length, depth, flags});
        return this;
    }

    ScriptedDevice fill(int from, int to, byte value) {
        java.util.Arrays.fill(data, from, to, value);
        return this;
    }

    byte[] bytes() {
        return data;
    }

    @Override public Path path() { return Path.of("scripted"); }
    @Override public String format() { return "qcow2"; }
    @Override public long size() { return data.length; }
    @Override public boolean isReadOnly() { return false; }

    @Override
    public void read(long guestOffset, ByteBuffer dst) {
        reads.add(guestOffset);
        dst.put(data, (int) guestOffset, dst.remaining());
    }

    @Override
    public void write(long guestOffset, ByteBuffer src) {
        ops.add(new Op("write", guestOffset, src.remaining()));
        src.get(data, (int) guestOffset, src.remaining());
    }

    @Override
    public void writeZeroes(long guestOffset, long lengthBytes) {
        ops.add(new Op("zero", guestOffset, lengthBytes));
        java.util.Arrays.fill(data, (int) guestOffset, (int) (guestOffset + lengthBytes), (byte) 0);
    }

    @Override
    public void discard(long guestOffset, long lengthBytes) {
        writeZeroes(guestOffset, lengthBytes);
    }

    @Override public void flush() { }

    @Override
    public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) {
        long end = data.length;
        for (long[] r : runs) {
            if (guestOffset >= r[0] && guestOffset < r[0] + r[1]) {
                int f = (int) r[3];
                long len = Math.min(maxLengthBytes, r[0] + r[1] - guestOffset);
                boolean isData = (f & DATA) != 0;
                return new BlockStatus(len, (int) r[2], (f & PRESENT) != 0, (f & ZERO) != 0, isData, false,
                        isData ? guestOffset + 0x10000 : -1, isData ? path() : null);
            }
            if (r[0] > guestOffset) {
                end = Math.min(end, r[0]);
            }
        }
        return new BlockStatus(Math.min(maxLengthBytes, end - guestOffset), 0, false, true, false, false, -1, null);
    }

    @Override public long allocatedFileBytes() { return data.length; }
    @Override public void close() { }
}
