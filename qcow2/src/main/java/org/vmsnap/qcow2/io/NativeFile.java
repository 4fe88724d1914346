package org.vmsnap.qcow2.io;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A raw Linux file descriptor for what {@link java.nio.channels.FileChannel} cannot do: open
 * file description (OFD) locks, hole punching, SEEK_DATA/SEEK_HOLE and st_blocks. Calls go
 * through java.lang.foreign; only Linux on x86_64 and aarch64 is supported, where every
 * structure used here has the same layout.
 *
 * <p>Why a descriptor of our own: FileChannel locks are classic POSIX locks, which belong to
 * the process and vanish when <em>any</em> descriptor of the file is closed (a second open of
 * the same image elsewhere in the JVM would silently drop them). OFD locks belong to this
 * descriptor only, conflict even with other descriptors of the same process, and are what
 * QEMU uses, so QEMU sees them and we see QEMU's.
 */
final class NativeFile implements Closeable {

    // <fcntl.h> values, identical on x86_64 and aarch64 (both use the generic numbers).
    private static final long AT_FDCWD = -100;
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int O_NONBLOCK = 04000;
    private static final int O_CLOEXEC = 02000000;
    private static final int F_OFD_GETLK = 36;
    private static final int F_OFD_SETLK = 37;
    static final short F_RDLCK = 0;
    static final short F_WRLCK = 1;
    static final short F_UNLCK = 2;
    private static final short SEEK_SET = 0;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;

    // errno values that are answers, not failures.
    private static final int ENOENT = 2;
    private static final int ENXIO = 6;
    private static final int EAGAIN = 11;
    private static final int EACCES = 13;
    private static final int EEXIST = 17;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;

    /** struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid. */
    private static final StructLayout FLOCK = MemoryLayout.structLayout(
            JAVA_SHORT.withName("l_type"),
            JAVA_SHORT.withName("l_whence"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("l_start"),
            JAVA_LONG.withName("l_len"),
            JAVA_INT.withName("l_pid"),
            MemoryLayout.paddingLayout(4));

    /**
     * struct stat differs between x86_64 (144 bytes) and aarch64 (128 bytes), but st_blocks
     * sits at byte 64 in both; we read only that field from a buffer big enough for either.
     */
    private static final long STAT_BUFFER_BYTES = 256;
    private static final long ST_BLOCKS_OFFSET = 64;
    /** st_blocks counts 512-byte units whatever the file system block size (POSIX). */
    private static final long ST_BLOCK_BYTES = 512;

    private static final Functions FUNCTIONS = Functions.load();

    private final Path path;
    private final int fd;
    private boolean closed;

    private NativeFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** True when this platform has the native calls (Linux x86_64/aarch64, native access allowed). */
    static boolean isAvailable() {
        return FUNCTIONS != null;
    }

    /** Why the native calls are missing, for diagnostics; null when they are available. */
    static String unavailableReason() {
        return FUNCTIONS == null ? Functions.failure : null;
    }

    /** open(2) the file; create with O_CREAT|O_EXCL and mode 0644 when createNew. */
    static NativeFile open(Path path, boolean readOnly, boolean createNew) throws IOException {
        int flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        if (createNew) {
            flags |= O_CREAT | O_EXCL;
        }
        return open(path, flags);
    }

    /**
     * open(2) read-only and non-blocking: a FIFO or device put where an image was expected opens
     * at once instead of waiting for a writer (on a regular file O_NONBLOCK changes nothing).
     */
    static NativeFile openReadOnlyNonBlocking(Path path) throws IOException {
        return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }

    private static NativeFile open(Path path, int flags) throws IOException {
        Functions f = requireFunctions(path);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            MemorySegment cPath = arena.allocateFrom(path.toString());
            int fd = (int) (long) f.syscall().invokeExact(state, f.nr().openat(), AT_FDCWD, cPath.address(),
                    (long) flags, 0644L);
            if (fd < 0) {
                int errno = errno(state);
                // The java.nio types, so callers can tell a missing file from other failures.
                switch (errno) {
                    case ENOENT -> throw new NoSuchFileException(path.toString());
                    case EEXIST -> throw new FileAlreadyExistsException(path.toString());
                    case EACCES -> throw new AccessDeniedException(path.toString(), null, strerror(errno));
                    default -> throw error(path, "open", errno);
                }
            }
            return new NativeFile(path, fd);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": open failed", t);
        }
    }

    int fd() {
        return fd;
    }

    /**
     * Tries to set (F_RDLCK/F_WRLCK) or clear (F_UNLCK) an OFD lock on one range without
     * waiting. Returns false when another descriptor holds a conflicting lock.
     */
    boolean setLock(short type, long start, long length) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flock = flock(arena, type, start, length);
            int err = fcntl(arena, F_OFD_SETLK, flock, "fcntl(F_OFD_SETLK)", EAGAIN, EACCES);
            return err == 0;
        }
    }

    /**
     * F_OFD_GETLK: would a lock of this type on the range conflict with a lock held through
     * another descriptor? Locks held through this descriptor never conflict with it.
     */
    boolean wouldConflict(short type, long start, long length) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flock = flock(arena, type, start, length);
            fcntl(arena, F_OFD_GETLK, flock, "fcntl(F_OFD_GETLK)");
            return flock.get(JAVA_SHORT, FLOCK.byteOffset(MemoryLayout.PathElement.groupElement("l_type")))
                    != F_UNLCK;
        }
    }

    /** Punches a hole keeping the size; false when the file system cannot (EOPNOTSUPP). */
    boolean punchHole(long offset, long length) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().fallocate(), (long) fd,
                    (long) (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), offset, length);
            if (rc == 0) {
                return true;
            }
            int errno = errno(state);
            if (errno == EOPNOTSUPP) {
                return false;
            }
            throw error(path, "fallocate(PUNCH_HOLE) at 0x" + Long.toHexString(offset)
                    + " length " + length, errno);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": fallocate failed", t);
        }
    }

    /**
     * fallocate(KEEP_SIZE): gives the range disk space now (also past the end, the size kept),
     * so later writes into it cannot fail for want of space; false when the file system cannot
     * (EOPNOTSUPP). A full disk fails here, naming the file, as a write would.
     */
    boolean reserve(long offset, long length) throws IOException {
        return fallocate(FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /**
     * fallocate(mode 0): gives a range that is a hole (or past the end) disk space that reads
     * as zeros (unwritten extents), growing the size when the range reaches past the end, never
     * shrinking it; false when the file system cannot (EOPNOTSUPP). What QEMU does for the
     * unwritten rest of a newly allocated cluster.
     */
    boolean allocate(long offset, long length) throws IOException {
        return fallocate(0, offset, length);
    }

    /**
     * fallocate(2) with {@code mode}: false when the file system cannot (EOPNOTSUPP). Another
     * failure is typed like a failed write (ENOSPC names the file), as the write it stands for
     * would fail.
     */
    private boolean fallocate(int mode, long offset, long length) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().fallocate(), (long) fd,
                    (long) mode, offset, length);
            if (rc == 0) {
                return true;
            }
            int errno = errno(state);
            if (errno == EOPNOTSUPP) {
                return false;
            }
            throw new java.nio.file.FileSystemException(path.toString(), null, strerror(errno));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": fallocate failed", t);
        }
    }

    /** lseek SEEK_DATA: next data offset, -1 past the last data; -2 when unsupported. */
    long seekData(long offset) throws IOException {
        return seek(offset, SEEK_DATA, "lseek(SEEK_DATA)");
    }

    /** lseek SEEK_HOLE: next hole offset (EOF counts), -1 past EOF; -2 when unsupported. */
    long seekHole(long offset) throws IOException {
        return seek(offset, SEEK_HOLE, "lseek(SEEK_HOLE)");
    }

    private long seek(long offset, int whence, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().lseek(), (long) fd, offset,
                    (long) whence, 0L);
            if (rc >= 0) {
                return rc;
            }
            int errno = errno(state);
            if (errno == ENXIO) {
                return -1;
            }
            if (errno == EINVAL) {
                return -2;
            }
            throw error(path, what + " at 0x" + Long.toHexString(offset), errno);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": lseek failed", t);
        }
    }

    /** ftruncate(2): sets the length; growing leaves a hole (FileChannel can only shrink). */
    void setLength(long length) throws IOException {
        call(FUNCTIONS.nr().ftruncate(), "ftruncate to " + length + " bytes", length, 0L, 0L);
    }

    /** A system call on this descriptor with three more arguments that returns 0, else fails naming {@code what}. */
    private void call(long nr, String what, long a, long b, long c) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, nr, (long) fd, a, b, c);
            if (rc != 0) {
                throw error(path, what, errno(state));
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": " + what + " failed", t);
        }
    }

    /** sync_file_range(2)'s flag that starts the writeback of dirty pages and waits for none. */
    private static final long SYNC_FILE_RANGE_WRITE = 2;

    /**
     * sync_file_range(2) over the whole file with SYNC_FILE_RANGE_WRITE: the kernel starts writing
     * the file's dirty pages back (whoever wrote them) and returns; nothing is waited for, nothing
     * becomes durable by this call alone. Works on a read-only descriptor.
     */
    void startWriteback() throws IOException {
        call(FUNCTIONS.nr().syncFileRange(), "sync_file_range", 0L, 0L, SYNC_FILE_RANGE_WRITE);
    }

    /** posix_fadvise's advice that drops a range's clean pages from the page cache. */
    private static final long POSIX_FADV_DONTNEED = 4;

    /**
     * posix_fadvise(POSIX_FADV_DONTNEED) over the whole file: the kernel drops the file's clean
     * pages from the page cache (dirty ones stay until written back). Reads stay correct: they
     * come from the disk again.
     */
    void dropCleanPages() throws IOException {
        call(FUNCTIONS.nr().fadvise(), "posix_fadvise", 0L, 0L, POSIX_FADV_DONTNEED);
    }

    /** fstat st_blocks * 512: bytes the file system has allocated to the file. */
    long allocatedBytes() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            MemorySegment stat = arena.allocate(STAT_BUFFER_BYTES, 8);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().fstat(), (long) fd,
                    stat.address(), 0L, 0L);
            if (rc != 0) {
                throw error(path, "fstat", errno(state));
            }
            return Math.multiplyExact(stat.get(JAVA_LONG, ST_BLOCKS_OFFSET), ST_BLOCK_BYTES);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": fstat failed", t);
        }
    }

    /** Closing the descriptor drops every OFD lock taken through it. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().close(), (long) fd, 0L, 0L, 0L);
            if (rc != 0) {
                throw error(path, "close", errno(state));
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": close failed", t);
        }
    }

    private static MemorySegment flock(Arena arena, short type, long start, long length) {
        MemorySegment flock = arena.allocate(FLOCK);
        flock.set(JAVA_SHORT, offsetOf("l_type"), type);
        flock.set(JAVA_SHORT, offsetOf("l_whence"), SEEK_SET);
        flock.set(JAVA_LONG, offsetOf("l_start"), start);
        flock.set(JAVA_LONG, offsetOf("l_len"), length);
        // l_pid must be 0 for OFD commands (EINVAL otherwise); allocate() zeroed it.
        return flock;
    }

    private static long offsetOf(String field) {
        return FLOCK.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** Calls fcntl(fd, cmd, flock); returns 0 or one of the expected errno values, else throws. */
    private int fcntl(Arena arena, int cmd, MemorySegment flock, String what, int... expected)
            throws IOException {
        try {
            MemorySegment state = arena.allocate(Functions.STATE);
            long rc = (long) FUNCTIONS.syscall().invokeExact(state, FUNCTIONS.nr().fcntl(), (long) fd, (long) cmd,
                    flock.address(), 0L);
            if (rc == 0) {
                return 0;
            }
            int errno = errno(state);
            for (int e : expected) {
                if (e == errno) {
                    return errno;
                }
            }
            long start = flock.get(JAVA_LONG, offsetOf("l_start"));
            throw error(path, what + " on byte " + start, errno);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": " + what + " failed", t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) Functions.ERRNO.get(state, 0L);
    }

    private static IOException error(Path path, String call, int errno) {
        return new IOException(path + ": " + call + " failed: " + strerror(errno) + " (errno " + errno + ")");
    }

    static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) Lazy.Strerror.HANDLE.invokeExact(errno);
            return text.reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return "error " + errno;
        }
    }

    private static Functions requireFunctions(Path path) throws IOException {
        if (FUNCTIONS == null) {
            throw new IOException(path + ": native file calls unavailable: " + Functions.failure);
        }
        return FUNCTIONS;
    }

    /**
     * Every call goes through one binding of libc's syscall(2), bound at class initialisation;
     * load() returns null (with the reason kept) when not possible. Why one: each downcall
     * binding of another shape generates ~20-45 classes at run time (lambda forms, a stub) that
     * the JDK 25 AOT cache cannot keep; four bindings (open, close, fcntl, fstat) cost an
     * {@code img info} 91 classes outside the cache, one costs 46 (branch startup2). syscall()
     * returns -1 and sets errno as the libc wrappers do; every argument is passed as a long
     * (the kernel reads an int argument from the low half of its register).
     */
    private record Functions(MethodHandle syscall, Numbers nr) {

        static final StructLayout STATE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");
        static String failure;

        static Functions load() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
            Numbers nr = os.equals("linux") ? Numbers.of(arch) : null;
            if (nr == null) {
                failure = "not Linux x86_64/aarch64 (" + os + "/" + arch + ")";
                return null;
            }
            try {
                // long syscall(long number, ...): the number, then four arguments at most.
                return new Functions(bind("syscall", FunctionDescriptor.of(JAVA_LONG,
                        JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                        ERRNO_OPTION, Linker.Option.firstVariadicArg(1)), nr);
            } catch (RuntimeException | LinkageError e) {
                // IllegalCallerException when native access is denied (--illegal-native-access=deny).
                failure = e.toString();
                return null;
            }
        }

        static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
            Linker linker = Linker.nativeLinker();
            MemorySegment symbol = linker.defaultLookup().find(name)
                    .orElseThrow(() -> new UnsatisfiedLinkError("no C function " + name));
            return linker.downcallHandle(symbol, fd, options);
        }
    }

    /** The Linux system call numbers (asm/unistd.h), per architecture. */
    private record Numbers(long openat, long close, long fcntl, long fstat, long fallocate, long lseek,
                           long ftruncate, long syncFileRange, long fadvise) {
        static Numbers of(String arch) {
            return switch (arch) {
                case "amd64", "x86_64" -> new Numbers(257, 3, 72, 5, 285, 8, 77, 277, 221);
                // The generic table (asm-generic/unistd.h).
                case "aarch64" -> new Numbers(56, 57, 25, 80, 47, 62, 46, 84, 223);
                default -> null;
            };
        }
    }

    /**
     * strerror, bound on first use (an error message only): the JVM initialises a holder class
     * once, when first used. Only reached once {@link Functions} loaded, so the same libc has it.
     */
    private static final class Lazy {
        private Lazy() {
        }

        static final class Strerror {
            static final MethodHandle HANDLE = Functions.bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        }
    }
}
