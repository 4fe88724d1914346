package org.vmsnap.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

import org.vmsnap.manager.ManagerException;

/**
 * The bearer token of one {@code serve} process: 256 random bits in hex, written to
 * {@code serve-token} in the state folder with mode 0600. The file is created exclusively and
 * never through a symlink, so another user cannot plant a file or link there to learn or choose
 * the token; it is removed when the server stops, as vmsnap created it.
 */
public final class ServeToken {
    public static final String FILE_NAME = "serve-token";
    private static final int BYTES = 32;

    private final String token;
    private final Path file;

    private ServeToken(String token, Path file) {
        this.token = token;
        this.file = file;
    }

    /** A new token written to {@code stateFolder/serve-token}; refuses when that name exists. */
    public static ServeToken create(Path stateFolder) throws IOException {
        Files.createDirectories(stateFolder);
        return createAt(stateFolder.resolve(FILE_NAME));
    }

    /** A new token written to {@code file} (its folder must exist); refuses when that name exists. */
    public static ServeToken createAt(Path file) throws IOException {
        byte[] random = new byte[BYTES];
        new SecureRandom().nextBytes(random);
        String token = HexFormat.of().formatHex(random);
        // CREATE_NEW fails on any existing name, a symlink included (it is not followed).
        try (SeekableByteChannel ch = Files.newByteChannel(file,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ByteBuffer b = ByteBuffer.wrap((token + "\n").getBytes(StandardCharsets.US_ASCII));
            while (b.hasRemaining()) {
                ch.write(b);
            }
        } catch (FileAlreadyExistsException e) {
            throw new ManagerException(file + " exists: another vmsnap serve may be running (remove the file if"
                    + " none is)");
        }
        // The umask can only remove bits; set them anyway so the mode does not depend on it.
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return new ServeToken(token, file);
    }

    public Path file() {
        return file;
    }

    /** Whether {@code header} is exactly "Bearer TOKEN", compared in constant time. */
    public boolean accepts(String header) {
        if (header == null || !header.startsWith("Bearer ")) {
            return false;
        }
        byte[] given = header.substring("Bearer ".length()).getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token.getBytes(StandardCharsets.US_ASCII));
    }

    /** Whether {@code value} (the page's {@code ?token=}) is the token, compared in constant time. */
    boolean acceptsValue(String value) {
        return value != null && accepts("Bearer " + value);
    }

    /** The token itself (serve prints it once, in the page's address). */
    String value() {
        return token;
    }

    /** Removes the file this process created, only if it still holds this token. */
    void delete() throws IOException {
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                && Files.readString(file, StandardCharsets.US_ASCII).strip().equals(token)) {
            Files.delete(file);
        }
    }
}
