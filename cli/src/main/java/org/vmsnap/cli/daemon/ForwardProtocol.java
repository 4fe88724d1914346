package org.vmsnap.cli.daemon;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The few bytes between the command-line client ({@link Forward}) and the daemon
 * ({@link CliDaemon}) on a UNIX socket only this user can reach.
 * <p>Request: magic, version, the client's folder, its {@code VMSNAP_HOME}, {@code XDG_RUNTIME_DIR}
 * and {@code TZ} (empty when unset: they decide which state folder, which run folders and which
 * clock the command sees, and must be the daemon's), then the arguments. Each string is a length
 * and UTF-8 bytes.
 * <p>Answer: frames of a type byte, a length and bytes: {@link #DECLINED} (run it yourself; nothing
 * was done), or {@link #ACCEPTED} and then {@link #OUT}/{@link #ERR} output and one {@link #EXIT}.
 * After {@code ACCEPTED} the client must never run the command itself: it may have taken effect.
 */
public final class ForwardProtocol {
    static final int MAGIC = 0x564d534e; // "VMSN"
    static final int VERSION = 1;
    static final byte DECLINED = 0;
    static final byte ACCEPTED = 1;
    static final byte OUT = 2;
    static final byte ERR = 3;
    static final byte EXIT = 4;
    /** No request is longer: a client sends its arguments, nothing else. */
    static final int MAX_STRING = 1 << 20;
    static final int MAX_ARGS = 4096;

    private ForwardProtocol() {
    }

    /** What a client asks. */
    record Request(String cwd, String home, String runtimeDir, String tz, String[] args) {
    }

    static void write(DataOutputStream o, Request r) throws IOException {
        o.writeInt(MAGIC);
        o.writeInt(VERSION);
        string(o, r.cwd());
        string(o, r.home());
        string(o, r.runtimeDir());
        string(o, r.tz());
        o.writeInt(r.args().length);
        for (String a : r.args()) {
            string(o, a);
        }
        o.flush();
    }

    static Request read(DataInputStream in) throws IOException {
        if (in.readInt() != MAGIC || in.readInt() != VERSION) {
            throw new IOException("not a vmsnap client of this version");
        }
        String cwd = string(in);
        String home = string(in);
        String runtimeDir = string(in);
        String tz = string(in);
        int n = in.readInt();
        if (n < 0 || n > MAX_ARGS) {
            throw new IOException("bad argument count " + n);
        }
        String[] args = new String[n];
        for (int i = 0; i < n; i++) {
            args[i] = string(in);
        }
        return new Request(cwd, home, runtimeDir, tz, args);
    }

    private static void string(DataOutputStream o, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        o.writeInt(b.length);
        o.write(b);
    }

    private static String string(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_STRING) {
            throw new IOException("bad string length " + n);
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** One answer frame: type, length, bytes (the caller serializes writers). */
    static void frame(DataOutputStream o, byte type, byte[] b, int off, int len) throws IOException {
        o.writeByte(type);
        o.writeInt(len);
        o.write(b, off, len);
        o.flush();
    }

    /** The type of the next frame, or -1 at the end of the stream. */
    static int nextType(DataInputStream in) throws IOException {
        try {
            return in.readUnsignedByte();
        } catch (EOFException e) {
            return -1;
        }
    }
}
