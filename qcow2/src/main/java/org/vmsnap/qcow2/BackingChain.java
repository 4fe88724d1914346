package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Pattern;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.Limits;

/**
 * Opens the backing file named inside an image. Names are data from the image, so they
 * are never trusted: protocol prefixes and {@code json:} are refused, relative names
 * resolve against the image's folder, the format comes from the header extension (never
 * probed), and the chain has a depth limit and a cycle check.
 */
final class BackingChain {
    /** "nbd:", "http:", "json:", "file:"...: anything that looks like a QEMU protocol prefix. */
    private static final Pattern PROTOCOL = Pattern.compile("^[A-Za-z][A-Za-z0-9+.\\-]*:");

    private BackingChain() {
    }

    /** The backing name resolved against the image's folder, as qemu-img prints it. */
    static Path resolve(Path image, String name) {
        Path p = Path.of(name);
        if (p.isAbsolute()) {
            return p;
        }
        Path parent = image.getParent();
        return parent == null ? p : parent.resolve(p);
    }

    /**
     * The full backing name as qemu-img info prints it: a protocol or {@code json:} name is
     * kept as it is (vmsnap never opens it), a file name is resolved against the image.
     */
    static String fullName(Path image, String name) {
        if (name.startsWith("json:") || PROTOCOL.matcher(name).find() || name.indexOf('\0') >= 0) {
            return name;
        }
        return resolve(image, name).toString();
    }

    /** Refuses names QEMU would treat as protocols or JSON descriptions. */
    static void checkName(Path image, String name) throws BackingChainException {
        if (name.isEmpty()) {
            throw new BackingChainException(image, "backing file name is empty");
        }
        if (name.startsWith("json:") || PROTOCOL.matcher(name).find()) {
            throw new BackingChainException(image, "backing file name '" + abbreviate(name)
                    + "' uses a protocol prefix; vmsnap only opens plain file names");
        }
        if (name.indexOf('\0') >= 0) {
            throw new BackingChainException(image, "backing file name contains a NUL byte");
        }
    }

    static BlockDevice open(Path image, Header header, OpenOptions options, int depth, Set<Path> seen)
            throws IOException {
        String name = header.backingFileName();
        if (name == null) {
            return null;
        }
        checkName(image, name);
        String format = header.backingFormat();
        if (format == null) {
            throw new BackingChainException(image, "backing file '" + name + "' has no recorded format; "
                    + "vmsnap never probes it (set it: vmsnap img rebase -u -b '" + name + "' -F qcow2|raw)");
        }
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw new BackingChainException(image, "backing file '" + name + "' has unsupported format '" + format + "'");
        }
        if (depth + 1 > Limits.MAX_BACKING_CHAIN_DEPTH) {
            throw new BackingChainException(image, "backing chain is deeper than " + Limits.MAX_BACKING_CHAIN_DEPTH
                    + " images");
        }
        Path resolved = resolve(image, name);
        Path real;
        try {
            real = resolved.toRealPath();
        } catch (NoSuchFileException e) {
            throw new BackingChainException(image, "backing file '" + name + "' not found (looked at " + resolved + ")");
        }
        if (!seen.add(real)) {
            throw new BackingChainException(image, "backing chain has a cycle: '" + name + "' (" + real
                    + ") is already in the chain");
        }
        OpenOptions backingOptions = new OpenOptions(true, options.forceShare(), true, format);
        try {
            if (format.equals("qcow2")) {
                return Qcow2Image.openChain(resolved, backingOptions, depth + 1, seen);
            }
            return RawImage.open(resolved, backingOptions);
        } catch (BackingChainException e) {
            throw e;
        } catch (ImageException e) {
            throw new BackingChainException(image, "backing file '" + name + "': " + e.getMessage(), e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
