package org.vmsnap.qcow2.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * QEMU's own cluster compression, from the zlib QEMU links (the system's {@code libz.so.1}),
 * through java.lang.foreign: raw deflate with a 4 KiB window (window bits -12), memory level 9,
 * the default level and strategy, one {@code deflate(Z_FINISH)} per cluster into a buffer one
 * byte shorter than the cluster, as QEMU's qcow2 zlib compression does. With the same zlib, a
 * cluster compresses to the same bytes as with qemu-img.
 *
 * <p>Why not java.util.zip: its Deflater cannot set the window, always 32 KiB, and QEMU inflates
 * with 4 KiB. {@link ZlibCodec} falls back to it (a full flush every 4 KiB keeps every reference
 * inside QEMU's window) when this class cannot load, at the cost of larger clusters: 5x on a
 * disk of one repeated byte, ~9% on binaries.
 *
 * <p>Bound on first use only (a start-up that compresses nothing links nothing). Streams are
 * kept for reuse ({@code deflateReset}, which zlib documents as deflateEnd then deflateInit
 * without the reallocation); any thread takes one, one thread at a time.
 */
final class NativeDeflate {
    /** z_stream on LP64 Linux (x86_64 and aarch64): 14 fields, 112 bytes; zlib checks the size. */
    private static final int Z_STREAM_BYTES = 112;
    private static final long NEXT_IN = 0;
    private static final long AVAIL_IN = 8;
    private static final long NEXT_OUT = 24;
    private static final long AVAIL_OUT = 32;

    private static final int Z_OK = 0;
    private static final int Z_STREAM_END = 1;
    private static final int Z_BUF_ERROR = -5;
    private static final int Z_FINISH = 4;
    private static final int Z_DEFLATED = 8;
    private static final int Z_DEFAULT_COMPRESSION = -1;
    private static final int Z_DEFAULT_STRATEGY = 0;
    /** QEMU's qcow2 parameters: a 4 KiB window, raw deflate (negative bits: no zlib header). */
    static final int WINDOW_BITS = -12;
    static final int MEMORY_LEVEL = 9;

    private final MethodHandle init;
    private final MethodHandle deflate;
    private final MethodHandle reset;
    private final MethodHandle end;
    private final MemorySegment version;
    private final IdlePool<Stream> idle = new IdlePool<>(Stream::close);

    private NativeDeflate(SymbolLookup zlib) {
        Linker linker = Linker.nativeLinker();
        init = bind(linker, zlib, "deflateInit2_", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        deflate = bind(linker, zlib, "deflate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        reset = bind(linker, zlib, "deflateReset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        end = bind(linker, zlib, "deflateEnd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        try {
            // deflateInit2 is a macro passing the header's version; this library's own passes its check.
            version = (MemorySegment) bind(linker, zlib, "zlibVersion", FunctionDescriptor.of(ADDRESS)).invokeExact();
        } catch (Throwable t) {
            throw new LinkageError("zlibVersion failed", t);
        }
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError("no zlib function " + name));
        return linker.downcallHandle(symbol, fd);
    }

    /** The loaded library, or null (with {@link #failure} saying why): ZlibCodec then deflates in Java. */
    static NativeDeflate instance() {
        return Holder.INSTANCE;
    }

    /** Why {@link #instance} is null, or null. */
    static String failure() {
        return Holder.failure;
    }

    /** zlib's version string, as QEMU's qemu-img would report linking it. */
    String zlibVersion() {
        return version.reinterpret(64).getString(0);
    }

    private static final class Holder {
        static String failure;
        static final NativeDeflate INSTANCE = load();

        private static NativeDeflate load() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
            if (!os.equals("linux") || !(arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"))) {
                failure = "not Linux x86_64/aarch64 (" + os + "/" + arch + ")";
                return null;
            }
            try {
                NativeDeflate d = new NativeDeflate(SymbolLookup.libraryLookup("libz.so.1", Arena.global()));
                d.new Stream(1).close(); // zlib accepts this z_stream (its size, the version), or none at all
                return d;
            } catch (RuntimeException | LinkageError e) {
                // IllegalArgumentException: no libz.so.1; IllegalCallerException: native access denied.
                failure = e.toString();
                return null;
            }
        }
    }

    /**
     * Compresses {@code src[0, srcLength)} into {@code dst}: the length, or -1 when it does not fit
     * in {@code dst.length} bytes.
     */
    int compress(byte[] src, int srcLength, byte[] dst) {
        Stream s = take(Math.max(srcLength, dst.length));
        boolean keep = false;
        try {
            int n = s.compress(src, srcLength, dst);
            keep = true;
            return n;
        } finally {
            if (keep) {
                idle.giveBack(s);
            } else {
                s.close();
            }
        }
    }

    private Stream take(int capacity) {
        Stream s = idle.poll();
        if (s != null && s.capacity >= capacity) {
            return s;
        }
        if (s != null) {
            s.close(); // made for smaller clusters
        }
        return new Stream(capacity);
    }

    /** One z_stream with native input and output buffers of {@code capacity} bytes each. */
    private final class Stream {
        final Arena arena = Arena.ofShared();
        final int capacity;
        final MemorySegment z;
        final MemorySegment in;
        final MemorySegment out;
        private boolean fresh = true;

        Stream(int capacity) {
            this.capacity = capacity;
            boolean ok = false;
            try {
                z = arena.allocate(Z_STREAM_BYTES, 8); // zeroed: zalloc, zfree and opaque Z_NULL
                in = arena.allocate(Math.max(capacity, 1));
                out = arena.allocate(Math.max(capacity, 1));
                int rc = (int) init.invokeExact(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, WINDOW_BITS, MEMORY_LEVEL,
                        Z_DEFAULT_STRATEGY, version, Z_STREAM_BYTES);
                if (rc != Z_OK) {
                    throw new IllegalStateException("zlib deflateInit2 failed (" + rc + ", zlib " + zlibVersion() + ")");
                }
                ok = true;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("zlib deflateInit2 failed", t);
            } finally {
                if (!ok) {
                    arena.close();
                }
            }
        }

        int compress(byte[] src, int srcLength, byte[] dst) {
            if (srcLength > capacity || dst.length > capacity) {
                throw new IllegalArgumentException("zlib stream of " + capacity + " bytes: " + srcLength + " in, "
                        + dst.length + " out");
            }
            try {
                if (!fresh) {
                    check("deflateReset", (int) reset.invokeExact(z));
                }
                fresh = false;
                MemorySegment.copy(src, 0, in, JAVA_BYTE, 0, srcLength);
                z.set(ADDRESS, NEXT_IN, in);
                z.set(JAVA_INT, AVAIL_IN, srcLength);
                z.set(ADDRESS, NEXT_OUT, out);
                z.set(JAVA_INT, AVAIL_OUT, dst.length);
                int rc = (int) deflate.invokeExact(z, Z_FINISH);
                if (rc == Z_OK || rc == Z_BUF_ERROR) {
                    return -1; // the output buffer filled before the end: does not shrink enough
                }
                check("deflate", rc == Z_STREAM_END ? Z_OK : rc);
                int n = dst.length - z.get(JAVA_INT, AVAIL_OUT);
                MemorySegment.copy(out, JAVA_BYTE, 0, dst, 0, n);
                return n;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("zlib deflate failed", t);
            }
        }

        private void check(String call, int rc) {
            if (rc != Z_OK) {
                throw new IllegalStateException("zlib " + call + " failed (" + rc + ", zlib " + zlibVersion() + ")");
            }
        }

        void close() {
            try {
                int ignored = (int) end.invokeExact(z); // frees zlib's own state (malloc'd)
            } catch (Throwable t) {
                // Nothing left to do with a stream being dropped; its arena goes below.
            } finally {
                arena.close();
            }
        }
    }
}
