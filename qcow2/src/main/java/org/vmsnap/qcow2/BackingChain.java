package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.Limits;

/**
 * Opens the backing chain named inside an image. Names are data from the image, so they
 * are never trusted: protocol prefixes and {@code json:} are refused, relative names
 * resolve against the folder of the image that names them, the format comes from the
 * header extension (never probed), and the chain has a depth limit
 * ({@link Limits#MAX_BACKING_CHAIN_DEPTH}) and a cycle check on real paths.
 *
 * <p>The chain below an image becomes one {@link ChainView}: each member opened read-only
 * on its own, except an optional writable member (the target of a commit), which is opened
 * read-write with its own chain below it and ends the view.
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

    /** Refuses a recorded backing format vmsnap cannot open (or none: never probed). */
    static void checkFormat(Path image, String name, String format) throws BackingChainException {
        if (format == null) {
            throw new BackingChainException(image, "backing file '" + name + "' has no recorded format; "
                    + "vmsnap never probes it (set it: vmsnap img rebase -u -b '" + name + "' -F qcow2|raw)");
        }
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw new BackingChainException(image, "backing file '" + name + "' has unsupported format '" + format + "'");
        }
    }

    /**
     * The real path of the backing file {@code name} of {@code image}, added to {@code seen};
     * refuses missing files, cycles and chains deeper than the limit.
     *
     * @param depth the depth of {@code image} (0 for the image the user named)
     */
    static Path locate(Path image, String name, int depth, Set<Path> seen) throws BackingChainException {
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
        } catch (IOException e) {
            throw new BackingChainException(image, "backing file '" + name + "' (" + resolved + ") cannot be opened: "
                    + e.getMessage(), e);
        }
        if (!seen.add(real)) {
            throw new BackingChainException(image, "Backing file '" + name + "' creates an infinite loop ("
                    + real + " is already in the chain)");
        }
        return real;
    }

    /**
     * Opens the chain below {@code image}, or returns null when the header names no backing
     * file.
     *
     * @param depth    depth of {@code image} in the chain the user opened
     * @param seen     real paths of the images opened so far (cycle check)
     * @param writable real path of the member to open read-write with its own chain, or null
     */
    static BlockDevice open(Path image, Header header, OpenOptions options, int depth, Set<Path> seen, Path writable)
            throws IOException {
        List<BlockDevice> layers = new ArrayList<>();
        boolean lastAnswersBelow = false;
        Path holder = image;
        String name = header.backingFileName();
        String format = header.backingFormat();
        int d = depth;
        try {
            while (name != null) {
                checkName(holder, name);
                checkFormat(holder, name, format);
                Path real = locate(holder, name, d, seen);
                Path resolved = resolve(holder, name);
                boolean write = real.equals(writable);
                OpenOptions memberOptions = new OpenOptions(!write, !write && options.forceShare(), write, format);
                BlockDevice member = openMember(holder, name, resolved, memberOptions, d + 1, seen);
                layers.add(member);
                if (write) {
                    lastAnswersBelow = member instanceof Qcow2Image q && q.backing() != null;
                    break;
                }
                if (!(member instanceof Qcow2Image q)) {
                    break; // raw: the bottom of the chain
                }
                holder = resolved;
                name = q.backingFileName();
                format = q.backingFormat();
                d++;
            }
        } catch (IOException | RuntimeException e) {
            try {
                ChainView.closeAll(layers);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return layers.isEmpty() ? null : new ChainView(layers, lastAnswersBelow);
    }

    /** Opens one member; errors other than chain errors and locks are reported against its holder. */
    private static BlockDevice openMember(Path holder, String name, Path resolved, OpenOptions options, int depth,
                                          Set<Path> seen) throws IOException {
        try {
            if (options.format().equals("qcow2")) {
                return Qcow2Image.openChain(resolved, options, depth, seen, null);
            }
            return RawImage.open(resolved, options);
        } catch (BackingChainException | ImageInUseException e) {
            throw e;
        } catch (ImageException e) {
            throw new BackingChainException(holder, "backing file '" + name + "': " + e.getMessage(), e);
        } catch (IOException e) {
            throw new BackingChainException(holder, "backing file '" + name + "' (" + resolved + ") cannot be read: "
                    + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
