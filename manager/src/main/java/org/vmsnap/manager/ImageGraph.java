package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;

/**
 * The image files a domain's disks and snapshots use, read from their headers: each file's
 * format, backing file and internal snapshots. Planners change a copy of it as they plan, so
 * that later steps of one plan see what earlier steps will have done.
 */
final class ImageGraph {
    /** One image file. */
    static final class Node {
        final Path path;
        final String format;
        Path backing;
        String backingFormat;
        final Set<String> internal = new LinkedHashSet<>();
        /** Creation time (nanoseconds since the epoch) of each internal snapshot, by name. */
        final Map<String, Long> internalDates = new LinkedHashMap<>();
        /** Bytes the image's own layer takes (allocated file bytes): the cost of moving it. */
        final long ownBytes;

        Node(Path path, String format, Path backing, String backingFormat, long ownBytes) {
            this.path = path;
            this.format = format;
            this.backing = backing;
            this.backingFormat = backingFormat;
            this.ownBytes = ownBytes;
        }
    }

    private final Map<Path, Node> nodes = new LinkedHashMap<>();

    /** Reads every file in {@code roots} and their backing chains (files that do not exist are left out). */
    static ImageGraph read(Iterable<Path> roots) throws IOException {
        ImageGraph g = new ImageGraph();
        Deque<Path> todo = new ArrayDeque<>();
        roots.forEach(todo::add);
        while (!todo.isEmpty()) {
            Path p = todo.pop().toAbsolutePath().normalize();
            if (g.nodes.containsKey(p) || !Files.exists(p)) {
                continue;
            }
            Node n = readNode(p);
            g.nodes.put(p, n);
            if (n.backing != null) {
                todo.push(n.backing);
            }
        }
        return g;
    }

    private static Node readNode(Path p) throws IOException {
        String format = Images.probeFormat(p);
        if (!format.equals("qcow2")) {
            return new Node(p, format, null, null, Files.size(p));
        }
        try (Qcow2Image img = Qcow2Image.open(p, OpenOptions.readOnlyOpen().withForceShare(true)
                .withOpenBacking(false))) {
            Path backing = img.backingFileName() == null ? null
                    : p.getParent().resolve(img.backingFileName()).normalize();
            Node n = new Node(p, "qcow2", backing, img.backingFormat(), img.allocatedFileBytes());
            for (SnapshotInfo s : img.snapshots()) {
                n.internal.add(s.name());
                n.internalDates.put(s.name(), s.dateSec() * 1_000_000_000L + s.dateNsec());
            }
            return n;
        }
    }

    /** Reads one more file (and its chain) into this graph. */
    void include(Path p) throws IOException {
        if (nodes.containsKey(p)) {
            return; // read already: recover asks for each disk's folder, often the same one
        }
        ImageGraph more = read(List.of(p));
        more.nodes.forEach(nodes::putIfAbsent);
    }

    /**
     * All images of the folder of {@code top} connected to it by backing links (its chain, the
     * images over any of them, their chains...): the images one disk of a domain has used.
     */
    Set<Path> family(Path top) throws IOException {
        Path dir = top.toAbsolutePath().getParent();
        try (java.nio.file.DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().startsWith(".")) {
                    try {
                        include(f.toAbsolutePath().normalize());
                    } catch (IOException e) {
                        // not an image vmsnap can read: not one of the disk's images
                    }
                }
            }
        }
        Set<Path> fam = new LinkedHashSet<>(chain(top));
        boolean grew = true;
        while (grew) {
            grew = false;
            for (Path f : List.copyOf(nodes.keySet())) {
                Node n = nodes.get(f);
                if (!fam.contains(f) && n.backing != null && fam.contains(n.backing)) {
                    fam.addAll(chain(f));
                    grew = true;
                }
            }
        }
        return fam;
    }

    /** The file and the files below it, top first. */
    List<Path> chain(Path top) {
        List<Path> out = new ArrayList<>();
        Path p = top;
        while (p != null && nodes.containsKey(p) && !out.contains(p)) {
            out.add(p);
            p = nodes.get(p).backing;
        }
        return out;
    }

    Node node(Path p) {
        return nodes.get(p);
    }

    boolean exists(Path p) {
        return nodes.containsKey(p);
    }

    List<Node> dependents(Path p) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes.values()) {
            if (p.equals(n.backing)) {
                out.add(n);
            }
        }
        return out;
    }

    void remove(Path p) {
        nodes.remove(p);
    }

    Set<Path> files() {
        return nodes.keySet();
    }

    /** Adds a node planned to be created. */
    void add(Node n) {
        nodes.put(n.path, n);
    }
}
