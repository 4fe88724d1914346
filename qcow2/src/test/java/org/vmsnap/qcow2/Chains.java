package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.io.FileBlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/** Backing chains on disk for the chain tests: made without opening the chain, any name allowed. */
final class Chains {
    static final int KIB = 1024;
    static final int MIB = 1024 * 1024;

    private Chains() {
    }

    /** A new qcow2 file (64 KiB clusters unless told); the backing name is stored as given, never opened. */
    static Path qcow2(Path file, long size, String backing, String backingFormat) throws IOException {
        return qcow2(file, Qcow2CreateOptions.ofSize(size).withBacking(backing, backingFormat));
    }

    static Path qcow2(Path file, Qcow2CreateOptions options) throws IOException {
        try (FileBlockStore store = FileBlockStore.create(file)) {
            ImageCreator.create(store, options);
        }
        return file;
    }

    /**
     * The same, for chains of a thousand files: one empty image is made once per size and
     * each file is a copy with its own header (name and format), written without syncing.
     */
    static Path quickQcow2(Path file, long size, String backing, String backingFormat) throws IOException {
        byte[] template = TEMPLATES.computeIfAbsent(size, s -> {
            MemoryBlockStore store = new MemoryBlockStore(file);
            try {
                ImageCreator.create(store, Qcow2CreateOptions.ofSize(s));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return store.toByteArray();
        });
        byte[] bytes = template.clone();
        Header header = Header.decode(file, ByteBuffer.wrap(template), template.length).withBacking(backing,
                backingFormat);
        byte[] encoded = header.encode();
        System.arraycopy(encoded, 0, bytes, 0, encoded.length);
        // Sparse: only the blocks holding something are written.
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            for (int off = 0; off < bytes.length; off += 4096) {
                int n = Math.min(4096, bytes.length - off);
                if (!Arrays.equals(bytes, off, off + n, new byte[n], 0, n)) {
                    ch.write(ByteBuffer.wrap(bytes, off, n), off);
                }
            }
            if (ch.size() < bytes.length) {
                ch.write(ByteBuffer.wrap(bytes, bytes.length - 1, 1), bytes.length - 1);
            }
        }
        return file;
    }

    private static final java.util.Map<Long, byte[]> TEMPLATES = new java.util.concurrent.ConcurrentHashMap<>();

    /** Writes {@code length} bytes of {@code value} into the image (opened read-write with its chain). */
    static void fill(Path image, long offset, int length, int value) throws IOException {
        byte[] data = new byte[length];
        Arrays.fill(data, (byte) value);
        try (BlockDevice d = Images.open(image, OpenOptions.readWrite())) {
            d.write(offset, ByteBuffer.wrap(data));
        }
    }

    static void zero(Path image, long offset, long length) throws IOException {
        try (BlockDevice d = Images.open(image, OpenOptions.readWrite())) {
            d.writeZeroes(offset, length);
        }
    }

    /** Everything the image reads through its chain. */
    static byte[] view(Path image) throws IOException {
        try (BlockDevice d = Images.open(image, OpenOptions.readOnlyOpen())) {
            return view(d);
        }
    }

    static byte[] view(BlockDevice d) throws IOException {
        byte[] all = new byte[Math.toIntExact(d.size())];
        d.read(0, ByteBuffer.wrap(all));
        return all;
    }

    /** A digest of the file's bytes: "nothing changed" checks. */
    static String digest(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** True when {@code [offset, offset+length)} of the image is decided by the image itself. */
    static boolean ownsAll(BlockDevice image, long offset, long length) throws IOException {
        for (long p = offset; p < offset + length; ) {
            BlockStatus s = image.blockStatus(p, offset + length - p);
            if (s.depth() != 0 || !s.present()) {
                return false;
            }
            p += s.lengthBytes();
        }
        return true;
    }

    /** Bytes of the range that the image itself holds (present at depth 0). */
    static long ownBytes(BlockDevice image) throws IOException {
        long own = 0;
        for (long p = 0; p < image.size(); ) {
            BlockStatus s = image.blockStatus(p, image.size() - p);
            if (s.depth() == 0 && s.present()) {
                own += s.lengthBytes();
            }
            p += s.lengthBytes();
        }
        return own;
    }
}
