package org.vmsnap.manager.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;

/**
 * Where the run folders of running domains live (QMP and agent sockets, pid file, exit status,
 * logs, and the domain's {@code runtime} record): outside the state folder, so that losing the
 * state folder does not lose the way to a QEMU that still runs (a socket that was unlinked
 * cannot be connected to again). Like libvirt's {@code /run/libvirt/qemu}, the root is a runtime
 * folder, emptied at boot when the QEMUs are gone too:
 * <ul>
 * <li>{@code $XDG_RUNTIME_DIR/vmsnap} when set (a user's session);</li>
 * <li>{@code /run/vmsnap} for root;</li>
 * <li>else {@code /tmp/vmsnap-<uid>}, used only if it is a real folder of this user with mode 0700.</li>
 * </ul>
 * One domain's folder is named by a hash of the state folder's path and the domain's name: two
 * state folders may hold domains of the same name, and a name may be long or odd, while a UNIX
 * socket path has at most 107 bytes.
 */
public final class RunRoot {
    /** The longest path a UNIX socket address holds (108 bytes with the terminating NUL). */
    private static final int MAX_SOCKET_PATH_BYTES = 107;
    /** The longest socket name in a run folder ({@code status.sock}) and the separators. */
    private static final int SOCKET_NAME_ROOM = "/0123456789abcdef0123456789abcdef/status.sock".length();

    private RunRoot() {
    }

    /** The run folder of domain {@code name} of the state folder {@code home} (not created here). */
    public static Path folder(Path home, String name) throws IOException {
        return root().resolve(key(home, name));
    }

    /**
     * The socket of the daemon that serves the state folder {@code home} (the CLI's warm JVM):
     * {@code <root>/<32 hex digits of SHA-256 over the folder's absolute path>.sock}. Without the
     * NUL and name of a domain's key, it is never a domain's folder.
     */
    public static Path daemonSocket(Path home) throws IOException {
        return root().resolve(key(home, null) + ".sock");
    }

    /**
     * 32 hex digits of SHA-256 over the state folder's absolute path and, for a domain's folder,
     * a NUL and the domain's name.
     */
    static String key(Path home, String name) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(home.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8));
            if (name != null) {
                sha.update((byte) 0);
                sha.update(name.getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e); // every JDK has it
        }
    }

    /** The root for this user (checked when it is the shared /tmp one; made later, 0700, by whoever writes). */
    static Path root() throws IOException {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute() && Files.isDirectory(Path.of(xdg))
                && fits(Path.of(xdg, "vmsnap"))) {
            return Path.of(xdg, "vmsnap");
        }
        long uid = uid();
        if (uid == 0 && Files.isDirectory(Path.of("/run"))) {
            return Path.of("/run/vmsnap");
        }
        Path shared = Path.of("/tmp", "vmsnap-" + uid);
        checkPrivate(shared, uid);
        return shared;
    }

    private static boolean fits(Path root) {
        return root.toString().getBytes(StandardCharsets.UTF_8).length + SOCKET_NAME_ROOM <= MAX_SOCKET_PATH_BYTES;
    }

    private static long uid() throws IOException {
        return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    }

    /** In a folder everyone may write, a folder of that name someone else made is never used. */
    static void checkPrivate(Path dir, long uid) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            AtomicFiles.privateDirectories(dir);
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + ": not a folder (vmsnap keeps its sockets there); remove it or set"
                    + " XDG_RUNTIME_DIR");
        }
        long owner = ((Number) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        if (owner != uid || !mode.equals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE))) {
            throw new IOException(dir + ": not a private folder of this user (owner " + owner + ", mode "
                    + java.nio.file.attribute.PosixFilePermissions.toString(mode)
                    + "); vmsnap keeps its sockets there only when it is: remove it or set XDG_RUNTIME_DIR");
        }
    }
}
