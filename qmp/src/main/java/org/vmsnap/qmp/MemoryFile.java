package org.vmsnap.qmp;

import com.github.luben.zstd.Zstd;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.CRC32C;

/**
 * vmsnap's memory file, version 2: a VM's memory and device state (QEMU's migration stream)
 * with the domain XML it belongs to, compressed with zstd in independent frames, each frame
 * checksummed, and a trailer, so a file cut short or damaged anywhere is found by
 * {@link #verify} before any QEMU is given a byte of it.
 *
 * <p>Layout, all numbers big-endian:
 * <pre>
 * header  0   8  magic "VMSNAPMS"
 *         8   4  version, 2
 *        12   4  flags: bit 0 the guest was running when saved
 *        16   4  xml capacity: bytes reserved for the XML (so save-image-define can rewrite it in place)
 *        20   4  xml length, bytes of UTF-8 (at most the capacity)
 *        24   4  CRC-32C of header bytes 0..23 and the xml bytes
 *        28   4  reserved, 0
 *        32      the domain XML, then zeros up to the capacity
 * frame   0   4  "VMFR"
 *         4   4  compressed length
 *         8   4  content length (bytes of QEMU's stream)
 *        12   4  CRC-32C of the compressed bytes
 *        16   4  CRC-32C of the content
 *        20      one zstd frame
 * trailer 0   8  "VMSNAPTR"   (the file's last 40 bytes)
 *         8   8  frame count
 *        16   8  stream length: the sum of the content lengths
 *        24   8  offset of the first frame
 *        32   4  CRC-32C of every frame header (20 bytes each) in order
 *        36   4  CRC-32C of trailer bytes 0..35
 * </pre>
 * Frames are compressed independently (several threads on save, several on restore), and the
 * frame index is rebuilt from the headers by seeking, so checking a file's structure reads only
 * a few bytes per frame; {@link #verify} also checks every frame's compressed bytes, and each
 * frame's content is checked again as it is fed to QEMU.
 */
public final class MemoryFile {
    static final byte[] MAGIC = "VMSNAPMS".getBytes(StandardCharsets.US_ASCII);
    static final byte[] FRAME_MAGIC = "VMFR".getBytes(StandardCharsets.US_ASCII);
    static final byte[] TRAILER_MAGIC = "VMSNAPTR".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 2;
    static final int HEADER_BYTES = 32;
    static final int FRAME_HEADER_BYTES = 20;
    static final int TRAILER_BYTES = 40;
    static final int FLAG_RUNNING = 1;
    /** A frame's content may not exceed this: the writer makes 4 MiB frames; 64 MiB bounds a reader's memory. */
    static final int MAX_FRAME_CONTENT_BYTES = 64 << 20;
    /** zstd's worst case for a 64 MiB frame is a little over it. */
    static final int MAX_FRAME_COMPRESSED_BYTES = (int) Zstd.compressBound(MAX_FRAME_CONTENT_BYTES);
    /** A domain XML is a few KiB; 16 MiB bounds what a damaged length could make a reader allocate. */
    static final int MAX_XML_BYTES = 16 << 20;

    private MemoryFile() {
    }

    /** What the header says: the guest's state when saved and its domain XML. */
    public record Header(boolean wasRunning, String domainXml, int xmlCapacity) {
    }

    /** A file whose structure and every frame's compressed bytes checked out. */
    public record Verified(Path file, Header header, long streamBytes, long fileBytes, long[] frameOffsets) {
        public int frameCount() {
            return frameOffsets.length;
        }
    }

    /** The file is not a vmsnap memory file, or it is cut short or damaged: the message names file, offset, reason. */
    public static final class BadMemoryFileException extends IOException {
        private static final long serialVersionUID = 1L;

        BadMemoryFileException(Path file, long offset, String reason) {
            super(file + ": " + reason + " (at offset 0x" + Long.toHexString(offset) + ")");
        }
    }

    /** True when the file begins with the memory file magic (any version). */
    public static boolean hasMagic(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(MAGIC.length);
            readFully(ch, b, 0);
            return Arrays.equals(b.array(), MAGIC);
        } catch (EOFException e) {
            return false;
        }
    }

    /** Reads and checks the header alone (magic, version, XML and its checksum). */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(ch, file);
        }
    }

    static Header readHeader(FileChannel ch, Path file) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
        if (!readUpTo(ch, h, 0)) {
            throw new BadMemoryFileException(file, ch.size(), "not a vmsnap memory file: " + ch.size()
                    + " bytes, the header alone needs " + HEADER_BYTES);
        }
        if (!Arrays.equals(Arrays.copyOf(h.array(), MAGIC.length), MAGIC)) {
            throw new BadMemoryFileException(file, 0, "not a vmsnap memory file: bad magic");
        }
        int version = h.getInt(8);
        if (version != VERSION) {
            throw new BadMemoryFileException(file, 8, "unsupported memory file version " + version + " (this vmsnap"
                    + " reads version " + VERSION + ")");
        }
        int flags = h.getInt(12);
        int capacity = h.getInt(16);
        int length = h.getInt(20);
        if (capacity < 0 || capacity > MAX_XML_BYTES || length < 0 || length > capacity) {
            throw new BadMemoryFileException(file, 16, "damaged header: xml length " + Integer.toUnsignedString(length)
                    + " in a capacity of " + Integer.toUnsignedString(capacity));
        }
        ByteBuffer xml = ByteBuffer.allocate(length);
        if (!readUpTo(ch, xml, HEADER_BYTES)) {
            throw new BadMemoryFileException(file, ch.size(), "cut short inside the domain XML");
        }
        if (headerCrc(h.array(), xml.array()) != h.getInt(24)) {
            throw new BadMemoryFileException(file, 24, "damaged header: checksum mismatch");
        }
        return new Header((flags & FLAG_RUNNING) != 0, new String(xml.array(), StandardCharsets.UTF_8), capacity);
    }

    static int headerCrc(byte[] header, byte[] xml) {
        CRC32C crc = new CRC32C();
        crc.update(header, 0, 24);
        crc.update(xml);
        return (int) crc.getValue();
    }

    /** The header bytes (fixed part and XML area) for these values. */
    static ByteBuffer encodeHeader(boolean wasRunning, String domainXml, int capacity) {
        byte[] xml = domainXml.getBytes(StandardCharsets.UTF_8);
        if (xml.length > capacity || capacity > MAX_XML_BYTES) {
            throw new IllegalArgumentException("domain XML of " + xml.length + " bytes does not fit " + capacity);
        }
        ByteBuffer b = ByteBuffer.allocate(Math.addExact(HEADER_BYTES, capacity));
        b.put(MAGIC).putInt(VERSION).putInt(wasRunning ? FLAG_RUNNING : 0).putInt(capacity).putInt(xml.length);
        b.putInt(24, headerCrc(b.array(), xml));
        b.position(HEADER_BYTES);
        b.put(xml);
        return b.clear();
    }

    /** Room for the XML: twice its size and at least 16 KiB, to 4 KiB, so a redefined XML fits in place. */
    static int capacityFor(String domainXml) {
        int n = domainXml.getBytes(StandardCharsets.UTF_8).length;
        long want = Math.max(2L * n, 16 << 10);
        long rounded = (want + 4095) & ~4095L;
        return (int) Math.min(rounded, Math.max(n, MAX_XML_BYTES));
    }

    /**
     * Checks the whole file before it is used: header, trailer, the frame index (every frame header,
     * by seeking: the frames must tile the space between header and trailer, and their headers'
     * checksum must match the trailer's) and every frame's compressed bytes against its checksum.
     */
    public static Verified verify(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = readHeader(ch, file);
            long size = ch.size();
            long first = HEADER_BYTES + (long) header.xmlCapacity();
            if (size < first + TRAILER_BYTES) {
                throw new BadMemoryFileException(file, size, "cut short: " + size + " bytes, no room for the trailer"
                        + " after the header");
            }
            long trailerAt = size - TRAILER_BYTES;
            ByteBuffer t = ByteBuffer.allocate(TRAILER_BYTES);
            readFully(ch, t, trailerAt);
            CRC32C tc = new CRC32C();
            tc.update(t.array(), 0, 36);
            if (!Arrays.equals(Arrays.copyOf(t.array(), 8), TRAILER_MAGIC) || (int) tc.getValue() != t.getInt(36)) {
                throw new BadMemoryFileException(file, trailerAt, "cut short or damaged: no valid trailer at the end"
                        + " (the save did not finish)");
            }
            long count = t.getLong(8);
            long stream = t.getLong(16);
            if (t.getLong(24) != first || count < 0 || count > (trailerAt - first) / FRAME_HEADER_BYTES) {
                throw new BadMemoryFileException(file, trailerAt, "damaged trailer: " + count + " frames from offset 0x"
                        + Long.toHexString(t.getLong(24)));
            }
            long[] offsets = new long[(int) count];
            CRC32C index = new CRC32C();
            CRC32C data = new CRC32C();
            long at = first;
            long content = 0;
            ByteBuffer fh = ByteBuffer.allocate(FRAME_HEADER_BYTES);
            ByteBuffer body = ByteBuffer.allocate(1 << 20);
            for (int i = 0; i < count; i++) {
                if (at > trailerAt - FRAME_HEADER_BYTES) {
                    throw new BadMemoryFileException(file, at, "damaged: frame " + i + " of " + count + " would start"
                            + " past the last frame's end");
                }
                Frame f = readFrameHeader(ch, fh.clear(), at, file);
                index.update(fh.array());
                long end = Math.addExact(Math.addExact(at, FRAME_HEADER_BYTES), f.compressedBytes);
                if (end > trailerAt) {
                    throw new BadMemoryFileException(file, at, "damaged: frame " + i + " runs past the trailer");
                }
                data.reset();
                for (long p = at + FRAME_HEADER_BYTES; p < end; ) {
                    body.clear().limit((int) Math.min(body.capacity(), end - p));
                    readFully(ch, body, p);
                    data.update(body.flip());
                    p += body.limit();
                }
                if ((int) data.getValue() != f.compressedCrc) {
                    throw new BadMemoryFileException(file, at, "damaged: frame " + i + "'s bytes do not match their"
                            + " checksum");
                }
                offsets[i] = at;
                content = Math.addExact(content, f.contentBytes);
                at = end;
            }
            if (at != trailerAt || (int) index.getValue() != t.getInt(32) || content != stream) {
                throw new BadMemoryFileException(file, at, "damaged: the frames do not match the trailer's index");
            }
            return new Verified(file, header, stream, size, offsets);
        }
    }

    record Frame(int compressedBytes, int contentBytes, int compressedCrc, int contentCrc) {
    }

    private static Frame readFrameHeader(FileChannel ch, ByteBuffer fh, long at, Path file) throws IOException {
        readFully(ch, fh, at);
        if (!Arrays.equals(Arrays.copyOf(fh.array(), 4), FRAME_MAGIC)) {
            throw new BadMemoryFileException(file, at, "damaged: no frame header where one should be");
        }
        int c = fh.getInt(4);
        int n = fh.getInt(8);
        if (c <= 0 || c > MAX_FRAME_COMPRESSED_BYTES || n < 0 || n > MAX_FRAME_CONTENT_BYTES) {
            throw new BadMemoryFileException(file, at, "damaged frame header: " + Integer.toUnsignedString(c)
                    + " compressed bytes for " + Integer.toUnsignedString(n));
        }
        return new Frame(c, n, fh.getInt(12), fh.getInt(16));
    }

    /**
     * Writes the stream of a verified file to {@code out}, frames decompressed ahead on
     * {@code threads} threads; each frame's bytes are checked again (the file may have changed since
     * {@link #verify}) and its content checked before a byte of it is written. Returns the bytes written.
     *
     * @throws BadMemoryFileException when a frame no longer matches its checksums (nothing of it was written)
     * @throws PeerClosedException when writing to {@code out} failed
     */
    public static long feed(Verified v, WritableByteChannel out, int threads) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads),
                Thread.ofPlatform().daemon().name("vmsnap-mem-load-", 0).factory());
        try (FileChannel ch = FileChannel.open(v.file(), StandardOpenOption.READ)) {
            Deque<CompletableFuture<byte[]>> ahead = new ArrayDeque<>();
            int next = 0;
            long written = 0;
            for (int i = 0; i < v.frameCount(); i++) {
                while (next < v.frameCount() && ahead.size() <= threads) {
                    long at = v.frameOffsets()[next];
                    int index = next;
                    ahead.add(CompletableFuture.supplyAsync(() -> load(ch, v.file(), at, index), pool));
                    next++;
                }
                byte[] content = await(ahead.removeFirst());
                ByteBuffer b = ByteBuffer.wrap(content);
                try {
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                } catch (IOException e) {
                    throw new PeerClosedException(written, e);
                }
                written += content.length;
            }
            return written;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Writing the stream to its reader failed (QEMU closed the socket): how much went before. */
    public static final class PeerClosedException extends IOException {
        private static final long serialVersionUID = 1L;
        public final long sent;

        public PeerClosedException(long sent, IOException cause) {
            super(cause.getMessage(), cause);
            this.sent = sent;
        }
    }

    private static byte[] load(FileChannel ch, Path file, long at, int index) {
        try {
            ByteBuffer fh = ByteBuffer.allocate(FRAME_HEADER_BYTES);
            Frame f = readFrameHeader(ch, fh, at, file);
            ByteBuffer body = ByteBuffer.allocate(f.compressedBytes);
            readFully(ch, body, at + FRAME_HEADER_BYTES);
            CRC32C crc = new CRC32C();
            crc.update(body.array());
            if ((int) crc.getValue() != f.compressedCrc) {
                throw new BadMemoryFileException(file, at, "damaged: frame " + index + "'s bytes do not match their"
                        + " checksum (the file changed after it was checked)");
            }
            byte[] content;
            try {
                content = Zstd.decompress(body.array(), f.contentBytes);
            } catch (RuntimeException e) {
                throw new BadMemoryFileException(file, at, "damaged: frame " + index + " does not decompress: "
                        + e.getMessage());
            }
            crc.reset();
            crc.update(content);
            if (content.length != f.contentBytes || (int) crc.getValue() != f.contentCrc) {
                throw new BadMemoryFileException(file, at, "damaged: frame " + index + "'s content does not match"
                        + " its checksum");
            }
            return content;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof java.io.UncheckedIOException u) {
                throw u.getCause();
            }
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(c);
        }
    }

    /**
     * Rewrites the header of a file in place (save-image-define): the new XML must fit the
     * capacity the file reserved. The header is one write followed by fsync; its checksum tells a
     * torn write.
     */
    public static void rewriteHeader(Path file, boolean wasRunning, String domainXml) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            Header old = readHeader(ch, file);
            if (domainXml.getBytes(StandardCharsets.UTF_8).length > old.xmlCapacity()) {
                throw new BadMemoryFileException(file, 16, "the new domain XML (" + domainXml.getBytes(
                        StandardCharsets.UTF_8).length + " bytes) does not fit the " + old.xmlCapacity()
                        + " bytes the file reserved for it");
            }
            ByteBuffer h = encodeHeader(wasRunning, domainXml, old.xmlCapacity());
            long p = 0;
            while (h.hasRemaining()) {
                p += ch.write(h, p);
            }
            ch.force(true);
        }
    }

    static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        if (!readUpTo(ch, b, at)) {
            throw new EOFException("end of file at offset 0x" + Long.toHexString(at + b.position()));
        }
    }

    private static boolean readUpTo(FileChannel ch, ByteBuffer b, long at) throws IOException {
        long p = at;
        while (b.hasRemaining()) {
            int n = ch.read(b, p);
            if (n < 0) {
                return false;
            }
            p += n;
        }
        return true;
    }
}
