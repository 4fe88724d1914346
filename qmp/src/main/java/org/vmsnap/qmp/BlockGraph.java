package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * QEMU's block node graph as it is now: every node (format nodes such as qcow2 over protocol
 * nodes that name a file), the edges between them ({@code file}, {@code backing}) and the
 * block backends of the guest's devices with their root nodes.
 *
 * <p>The edges come from {@code x-debug-query-block-graph}, the node details from
 * {@code query-named-block-nodes}. A format node's own {@code file} member cannot name its
 * image: once a backing node was attached at run time (as {@code blockdev-snapshot} does), QEMU
 * reports a {@code json:} description there; the protocol node under it always has the plain
 * file name.
 */
public record BlockGraph(Map<String, Node> nodes, List<Backend> backends) {

    /**
     * One node.
     *
     * @param filename  the file of a protocol node ({@code drv} file), else null
     * @param file      the name of the {@code file} child, or null
     * @param backing   the name of the {@code backing} child, or null
     * @param snapshots the internal snapshots a format node's image holds, by name
     */
    public record Node(String name, String driver, String filename, boolean readOnly, String file, String backing,
                       List<String> snapshots) {
        public Node {
            snapshots = List.copyOf(snapshots);
        }
    }

    /**
     * A guest device's block backend.
     *
     * @param qdev   the device's QOM path ({@code /machine/peripheral/vda/virtio-backend}), or ""
     * @param device the backend's own name (from {@code -drive}), or ""
     * @param root   the root node's name, or null when no medium is inserted
     */
    public record Backend(String qdev, String device, String root) {
        /** Whether this backend belongs to the device with this id (or is named so). */
        public boolean isFor(String deviceId) {
            return device.equals(deviceId) || qdev.equals("/machine/peripheral/" + deviceId)
                    || qdev.startsWith("/machine/peripheral/" + deviceId + "/");
        }
    }

    public BlockGraph {
        nodes = Map.copyOf(nodes);
        backends = List.copyOf(backends);
    }

    /** Queries QEMU; each command within {@code timeout}. */
    public static BlockGraph query(QmpClient qmp, Duration timeout) throws QmpException {
        JsonNode graph = qmp.execute("x-debug-query-block-graph", null, timeout);
        JsonNode named = qmp.execute("query-named-block-nodes", QmpClient.arguments().put("flat", true), timeout);
        Map<Long, String> nameById = new LinkedHashMap<>();
        Map<Long, String> backendById = new LinkedHashMap<>();
        for (JsonNode n : graph.path("nodes")) {
            if (n.path("type").asText().equals("block-driver")) {
                nameById.put(n.path("id").asLong(), n.path("name").asText());
            } else if (n.path("type").asText().equals("block-backend")) {
                backendById.put(n.path("id").asLong(), n.path("name").asText());
            }
        }
        Map<String, String> fileChild = new LinkedHashMap<>();
        Map<String, String> backingChild = new LinkedHashMap<>();
        Map<String, String> rootOfBackend = new LinkedHashMap<>();
        for (JsonNode e : graph.path("edges")) {
            long parent = e.path("parent").asLong();
            String child = nameById.get(e.path("child").asLong());
            String edge = e.path("name").asText();
            if (nameById.containsKey(parent)) {
                if (edge.equals("file")) {
                    fileChild.put(nameById.get(parent), child);
                } else if (edge.equals("backing")) {
                    backingChild.put(nameById.get(parent), child);
                }
            } else if (backendById.containsKey(parent) && edge.equals("root")) {
                rootOfBackend.put(backendById.get(parent), child);
            }
        }
        Map<String, Node> nodes = new LinkedHashMap<>();
        for (JsonNode n : named) {
            String name = n.path("node-name").asText();
            String driver = n.path("drv").asText();
            List<String> snapshots = new ArrayList<>();
            for (JsonNode s : n.path("image").path("snapshots")) {
                snapshots.add(s.path("name").asText());
            }
            boolean protocol = !fileChild.containsKey(name) && !n.path("file").asText().startsWith("json:");
            nodes.put(name, new Node(name, driver, protocol ? n.path("file").asText() : null, n.path("ro").asBoolean(),
                    fileChild.get(name), backingChild.get(name), snapshots));
        }
        List<Backend> backends = new ArrayList<>();
        for (JsonNode b : qmp.execute("query-block", null, timeout)) {
            String qdev = b.path("qdev").asText("");
            String device = b.path("device").asText("");
            String root = b.path("inserted").path("node-name").asText(null);
            backends.add(new Backend(qdev, device, root));
        }
        // Backends without a device model (a blockdev only) do not appear in query-block; the
        // graph's root edges cover the rest.
        // The graph names a backend by its QOM path, or by its own name for -drive (then query-block
        // has it under "device").
        rootOfBackend.forEach((name, root) -> {
            if (backends.stream().noneMatch(b -> b.qdev().equals(name) || b.device().equals(name))) {
                backends.add(new Backend(name, "", root));
            }
        });
        return new BlockGraph(nodes, backends);
    }

    /**
     * Whether QEMU has a node of this name, from {@code query-named-block-nodes} alone: the one
     * of {@link #query}'s three commands that lists the nodes (the other two give the edges and
     * the devices, which a presence check does not need).
     */
    public static boolean hasNode(QmpClient qmp, String nodeName, Duration timeout) throws QmpException {
        for (JsonNode n : qmp.execute("query-named-block-nodes", QmpClient.arguments().put("flat", true), timeout)) {
            if (n.path("node-name").asText().equals(nodeName)) {
                return true;
            }
        }
        return false;
    }

    public Optional<Node> node(String name) {
        return Optional.ofNullable(nodes.get(name));
    }

    /** The image file of a format node (the file of its protocol child), or of a protocol node. */
    public Optional<Path> imageFile(String nodeName) {
        Node n = nodes.get(nodeName);
        while (n != null && n.filename() == null && n.file() != null) {
            n = nodes.get(n.file());
        }
        return n == null || n.filename() == null ? Optional.empty() : Optional.of(Path.of(n.filename()));
    }

    /**
     * The format node that reads {@code image}: the parent of the protocol node of that file, or
     * that node itself when nothing sits on it (a raw disk opened as a protocol node).
     */
    public Optional<String> formatNodeOf(Path image) {
        Path wanted = image.toAbsolutePath().normalize();
        for (Node n : nodes.values()) {
            if (n.file() != null && imageFile(n.name()).map(p -> p.toAbsolutePath().normalize().equals(wanted))
                    .orElse(false) && n.filename() == null) {
                return Optional.of(n.name());
            }
        }
        return Optional.empty();
    }

    /** The format nodes of a chain from {@code root} down its backing links, top first. */
    public List<String> chain(String root) {
        List<String> out = new ArrayList<>();
        for (String n = root; n != null && nodes.containsKey(n) && !out.contains(n); n = nodes.get(n).backing()) {
            out.add(n);
        }
        return out;
    }

    /** The backend of the guest device with this id (its target, e.g. {@code vda}). */
    public Optional<Backend> backend(String deviceId) {
        return backends.stream().filter(b -> b.isFor(deviceId)).findFirst();
    }

    /** Whether any backend's chain, or any node's backing, uses {@code nodeName}. */
    public boolean inUse(String nodeName) {
        for (Backend b : backends) {
            if (b.root() != null && chain(b.root()).contains(nodeName)) {
                return true;
            }
        }
        return false;
    }
}
