package org.vmsnap.qcow2.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.qcow2.ImageInUseException;

/**
 * QEMU's image locking protocol (block/file-posix.c), so that QEMU and vmsnap see each
 * other's opens.
 *
 * <p>Each block permission i has two lock bytes in the image file: byte {@code 100 + i}
 * carries a shared lock while the holder <em>uses</em> the permission, byte {@code 200 + i}
 * a shared lock while the holder does <em>not share</em> it with others. An opener first
 * takes all its shared locks, then tests for conflicts with an exclusive lock on the opposite
 * byte: for a permission it wants, on byte 200 + i (someone refuses to share it); for a
 * permission it refuses to share, on byte 100 + i (someone uses it). Taking before testing
 * means two racing openers cannot both win.
 *
 * <p>vmsnap asks for exactly what QEMU's qcow2 driver asks of its image file, observed with
 * {@code strace} and {@code /proc/locks} on QEMU 7.2 (qemu-io, qemu-img check/map/snapshot,
 * qemu-system-x86_64 -blockdev): a qcow2 file needs consistent reads, plus write and resize
 * when writable, and never lets others write or resize it under its metadata.
 * <ul>
 *   <li>read-write: bytes 100, 101, 103 (read, write, resize) and 201, 203 (not sharing write,
 *       resize);</li>
 *   <li>read-only: bytes 100 and 201, 203.</li>
 * </ul>
 * Write-unchanged (bit 2) is always shared and never used, as QEMU does here. For the record,
 * {@code qemu-img info} (which opens without I/O) takes only 201, 203, and {@code -U} opens
 * take nothing; a qemu-io on a raw file takes 100, 101 without 201, 203.
 */
final class ImageLock implements Closeable {

    /** QEMU's block permissions in bit order; the names are QEMU's, for the same messages. */
    enum Permission {
        CONSISTENT_READ("consistent read"),
        WRITE("write"),
        WRITE_UNCHANGED("write unchanged"),
        RESIZE("resize");

        final String qemuName;

        Permission(String qemuName) {
            this.qemuName = qemuName;
        }

        /** Byte locked while the permission is held (RAW_LOCK_PERM_BASE + bit). */
        long permByte() {
            return PERM_BASE + ordinal();
        }

        /** Byte locked while the permission is not shared (RAW_LOCK_SHARED_BASE + bit). */
        long sharedByte() {
            return SHARED_BASE + ordinal();
        }
    }

    static final long PERM_BASE = 100;
    static final long SHARED_BASE = 200;

    /** What vmsnap uses; others may never write or resize an open qcow2 file under us. */
    static Set<Permission> usedPermissions(boolean write) {
        return write
                ? EnumSet.of(Permission.CONSISTENT_READ, Permission.WRITE, Permission.RESIZE)
                : EnumSet.of(Permission.CONSISTENT_READ);
    }

    static Set<Permission> unsharedPermissions() {
        return EnumSet.of(Permission.WRITE, Permission.RESIZE);
    }

    /** Lock-byte primitives: OFD locks when available, FileChannel locks otherwise. */
    private interface LockBytes {
        /** Takes a shared lock on one byte; false on conflict. */
        boolean lockShared(long offset) throws IOException;

        /** True when another holder would block an exclusive lock on the byte. */
        boolean conflicts(long offset) throws IOException;

        /** Drops every lock taken through this object. */
        void unlockAll() throws IOException;
    }

    private final LockBytes bytes;

    private ImageLock(LockBytes bytes) {
        this.bytes = bytes;
    }

    /** Takes QEMU's locks through an OFD descriptor of the image. */
    static ImageLock acquire(NativeFile file, Path path, boolean write) throws IOException {
        LockBytes ofd = new OfdLockBytes(file);
        // Take ours first, then test: a racing opener sees our bytes even if we see none of its.
        try {
            for (Permission p : usedPermissions(write)) {
                lockOrThrow(ofd, p.permByte(), path, "", p);
            }
            for (Permission p : unsharedPermissions()) {
                lockOrThrow(ofd, p.sharedByte(), path, "shared ", p);
            }
            checkConflicts(ofd, path, write);
        } catch (IOException | RuntimeException e) {
            try {
                ofd.unlockAll();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new ImageLock(ofd);
    }

    /**
     * Fallback where OFD locks are unavailable: classic FileChannel locks on the same bytes.
     * They are per process and a test lock on a byte we hold ourselves would collide inside
     * the JVM, so here we test first and take second; a racing opener may slip in between.
     */
    static ImageLock acquireFallback(FileChannel channel, Path path, boolean write) throws IOException {
        ChannelLockBytes posix = new ChannelLockBytes(channel, write);
        checkConflicts(posix, path, write);
        try {
            for (Permission p : usedPermissions(write)) {
                lockOrThrow(posix, p.permByte(), path, "", p);
            }
            for (Permission p : unsharedPermissions()) {
                lockOrThrow(posix, p.sharedByte(), path, "shared ", p);
            }
        } catch (IOException | RuntimeException e) {
            try {
                posix.unlockAll();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new ImageLock(posix);
    }

    private static void checkConflicts(LockBytes lockBytes, Path path, boolean write) throws IOException {
        // Same order and words as QEMU's raw_check_lock_bytes.
        for (Permission p : usedPermissions(write)) {
            if (lockBytes.conflicts(p.sharedByte())) {
                throw inUse(path, "", p);
            }
        }
        for (Permission p : unsharedPermissions()) {
            if (lockBytes.conflicts(p.permByte())) {
                throw inUse(path, "shared ", p);
            }
        }
    }

    private static void lockOrThrow(LockBytes lockBytes, long offset, Path path, String kind, Permission p)
            throws IOException {
        if (!lockBytes.lockShared(offset)) {
            throw inUse(path, kind, p);
        }
    }

    private static ImageInUseException inUse(Path path, String kind, Permission p) {
        return new ImageInUseException(path, "Failed to get " + kind + "\"" + p.qemuName
                + "\" lock: is another process using the image (QEMU, qemu-img)?");
    }

    /** Releases the locks; closing the descriptor would too, this makes it explicit. */
    @Override
    public void close() throws IOException {
        bytes.unlockAll();
    }

    private static final class OfdLockBytes implements LockBytes {
        private final NativeFile file;
        private final List<Long> held = new ArrayList<>();

        OfdLockBytes(NativeFile file) {
            this.file = file;
        }

        @Override
        public boolean lockShared(long offset) throws IOException {
            if (!file.setLock(NativeFile.F_RDLCK, offset, 1)) {
                return false;
            }
            held.add(offset);
            return true;
        }

        @Override
        public boolean conflicts(long offset) throws IOException {
            return file.wouldConflict(NativeFile.F_WRLCK, offset, 1);
        }

        @Override
        public void unlockAll() throws IOException {
            for (long offset : held) {
                file.setLock(NativeFile.F_UNLCK, offset, 1);
            }
            held.clear();
        }
    }

    private static final class ChannelLockBytes implements LockBytes {
        private final FileChannel channel;
        private final boolean writable;
        private final List<FileLock> held = new ArrayList<>();

        ChannelLockBytes(FileChannel channel, boolean writable) {
            this.channel = channel;
            this.writable = writable;
        }

        @Override
        public boolean lockShared(long offset) throws IOException {
            try {
                FileLock lock = channel.tryLock(offset, 1, true);
                if (lock == null) {
                    return false;
                }
                held.add(lock);
                return true;
            } catch (OverlappingFileLockException e) {
                return false; // another channel of this JVM holds the byte exclusively
            }
        }

        @Override
        public boolean conflicts(long offset) throws IOException {
            try {
                // An exclusive lock needs write access; a read-only channel can only try a
                // shared one, which finds exclusive holders but not shared ones (a known gap
                // of this fallback: a read-only open cannot see a writer's shared locks).
                FileLock probe = channel.tryLock(offset, 1, !writable);
                if (probe == null) {
                    return true;
                }
                probe.release();
                return false;
            } catch (OverlappingFileLockException e) {
                return true; // another open of the image in this JVM
            }
        }

        @Override
        public void unlockAll() throws IOException {
            IOException failure = null;
            for (FileLock lock : held) {
                try {
                    lock.release();
                } catch (IOException e) {
                    failure = e;
                }
            }
            held.clear();
            if (failure != null) {
                throw failure;
            }
        }
    }
}
