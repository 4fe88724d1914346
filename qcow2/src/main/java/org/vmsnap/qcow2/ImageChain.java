package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The members of a backing chain as their headers describe them, without reading any
 * data: what {@code info --backing-chain} prints and where {@code commit -b} looks its base
 * up. The same rules as opening the chain apply (no protocol names, recorded formats only,
 * a cycle check and the depth limit), so a chain this accepts is one vmsnap can open.
 */
public final class ImageChain {

    /**
     * One member: what {@code qemu-img info} says about it and its real path.
     *
     * @param info     the member's info; {@code filename} is the name as the user gave it
     *                 for the first member and the resolved backing name for the others
     * @param realPath the file's canonical path (cycle checks, base lookup)
     */
    public record Member(ImageInfo info, Path realPath) {
    }

    private ImageChain() {
    }

    /**
     * Describes {@code image} and every backing file below it, top first. The first image's
     * format is probed when {@code options.format()} is null; backing formats come from the
     * headers. The backing files are not opened for data.
     */
    public static List<Member> describe(Path image, OpenOptions options) throws IOException {
        List<Member> chain = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        ImageInfo info = Images.info(image, options.withOpenBacking(false));
        Path real = image.toRealPath();
        seen.add(real);
        chain.add(new Member(info, real));
        Path holder = image;
        while (info.backingFilename() != null) {
            String name = info.backingFilename();
            BackingChain.checkName(holder, name);
            BackingChain.checkFormat(holder, name, info.backingFilenameFormat());
            real = BackingChain.locate(holder, name, chain.size() - 1, seen);
            Path resolved = BackingChain.resolve(holder, name);
            try {
                info = Images.info(resolved, options.withOpenBacking(false).withFormat(info.backingFilenameFormat()));
            } catch (BackingChainException | ImageInUseException e) {
                throw e;
            } catch (IOException e) {
                throw new BackingChainException(holder, "backing file '" + name + "': " + e.getMessage(), e);
            }
            chain.add(new Member(info, real));
            holder = resolved;
        }
        return chain;
    }

    /**
     * The depth (1 for the backing file, 2 for its backing file...) of the member that
     * {@code name} names, or -1, matched as qemu-img does: a relative name is resolved
     * against the folder of each member that has a backing file and compared, as a real
     * path, with that member's backing file. The first member itself never matches.
     */
    public static int depthOf(List<Member> chain, String name) {
        Path given = Path.of(name);
        for (int k = 0; k + 1 < chain.size(); k++) {
            Path holder = Path.of(chain.get(k).info().filename());
            Path candidate = given.isAbsolute() ? given : BackingChain.resolve(holder, name);
            try {
                if (Files.exists(candidate) && candidate.toRealPath().equals(chain.get(k + 1).realPath())) {
                    return k + 1;
                }
            } catch (IOException e) {
                // an unreadable candidate names no member
            }
        }
        return -1;
    }
}
