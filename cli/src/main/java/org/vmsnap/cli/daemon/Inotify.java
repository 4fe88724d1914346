package org.vmsnap.cli.daemon;

import java.io.Closeable;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A Linux inotify descriptor, read without blocking by the thread that asks: whether anything
 * happened in the watched folders since the last question.
 *
 * <p>Why not {@link java.nio.file.WatchService}: its events reach the caller through a thread of
 * the JDK's, a little later than the change; a command started right after an edit could then still
 * see "nothing changed". The kernel queues an inotify event before the write or rename that caused
 * it returns, so a non-blocking read answers for everything done before the question.
 */
final class Inotify implements Closeable {
    // <sys/inotify.h>, the same on x86_64 and aarch64.
    private static final int IN_MODIFY = 0x2;
    private static final int IN_ATTRIB = 0x4;
    private static final int IN_MOVED_FROM = 0x40;
    private static final int IN_MOVED_TO = 0x80;
    private static final int IN_CREATE = 0x100;
    private static final int IN_DELETE = 0x200;
    private static final int IN_DELETE_SELF = 0x400;
    private static final int IN_MOVE_SELF = 0x800;
    private static final int IN_ONLYDIR = 0x1000000;
    private static final int IN_NONBLOCK = 04000;
    private static final int IN_CLOEXEC = 02000000;
    private static final int EVENTS = IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
            | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    private static final int EAGAIN = 11;

    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final long ERRNO_OFFSET = Linker.Option.captureStateLayout()
            .byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle addWatch;
    private final MethodHandle read;
    private final MethodHandle close;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private final MemorySegment state;
    private boolean closed;

    private Inotify(MethodHandle addWatch, MethodHandle read, MethodHandle close, int fd) {
        this.addWatch = addWatch;
        this.read = read;
        this.close = close;
        this.fd = fd;
        this.buffer = arena.allocate(16 * 1024);
        this.state = arena.allocate(Linker.Option.captureStateLayout());
    }

    /** A new descriptor, or null when inotify or native access is not available here. */
    static Inotify open() {
        try {
            MethodHandle init = bind("inotify_init1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle add = bind("inotify_add_watch", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
            MethodHandle rd = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
            MethodHandle cl = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            int fd = (int) init.invokeExact(IN_NONBLOCK | IN_CLOEXEC);
            return fd < 0 ? null : new Inotify(add, rd, cl, fd);
        } catch (Throwable e) { // no such function, native access denied (IllegalCallerException)
            return null;
        }
    }

    private static MethodHandle bind(String name, FunctionDescriptor d, Linker.Option... options) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("no C function " + name)), d, options);
    }

    /** Watches the folder {@code dir} (again: the same folder keeps its one watch); false when it cannot. */
    synchronized boolean watch(Path dir) {
        if (closed) {
            return false;
        }
        try (Arena a = Arena.ofConfined()) {
            return (int) addWatch.invokeExact(fd, a.allocateFrom(dir.toString()), EVENTS) >= 0;
        } catch (Throwable e) {
            return false;
        }
    }

    /**
     * Takes every event queued so far: 1 when there was one, 0 when none, -1 when the descriptor
     * cannot be read (the caller can no longer rely on it).
     */
    synchronized int drain() {
        if (closed) {
            return -1;
        }
        int seen = 0;
        try {
            while (true) {
                long n = (long) read.invokeExact(state, fd, buffer, buffer.byteSize());
                if (n > 0) {
                    seen = 1;
                    continue;
                }
                if (n < 0 && state.get(JAVA_INT, ERRNO_OFFSET) == EAGAIN) {
                    return seen;
                }
                return -1;
            }
        } catch (Throwable e) {
            return -1;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int ignored = (int) close.invokeExact(fd);
        } catch (Throwable e) {
            // nothing more to do: the descriptor is given up either way
        }
        arena.close();
    }
}
