package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.QmpException;

/**
 * A running domain's disks as QEMU has them open: which image files it holds, under which node
 * names, and which node is each disk's active image. Planners ask it which steps of a plan must
 * go through QEMU (a file QEMU holds changes only through QEMU).
 */
public final class LiveView {
    private static final Pattern OUR_NODE = Pattern.compile("vmsnap-(\\d+)-(?:format|storage)");

    private final LiveQemu qemu;
    private final BlockGraph graph;
    private int nextNode;

    private LiveView(LiveQemu qemu, BlockGraph graph) {
        this.qemu = qemu;
        this.graph = graph;
        int max = 0;
        for (String name : graph.nodes().keySet()) {
            Matcher m = OUR_NODE.matcher(name);
            if (m.matches()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        this.nextNode = max + 1;
    }

    public static LiveView of(LiveQemu qemu) throws QmpException {
        return new LiveView(qemu, BlockGraph.query(qemu.qmp(), LiveQemu.QMP_TIMEOUT));
    }

    public LiveQemu qemu() {
        return qemu;
    }

    public long pid() {
        return qemu.pid();
    }

    public BlockGraph graph() {
        return graph;
    }

    /** The format node through which QEMU reads {@code file}, if it holds it. */
    public Optional<String> nodeOf(Path file) {
        return graph.formatNodeOf(file);
    }

    public boolean holds(Path file) {
        return nodeOf(file).isPresent();
    }

    /**
     * The node of the disk's active image: the root of the device with this target as its id,
     * else the node that reads {@code currentTop} (a QEMU started by someone else names its
     * devices its own way).
     */
    public Optional<String> activeNode(String target, Path currentTop) {
        Optional<String> byId = graph.backend(target).map(BlockGraph.Backend::root);
        if (byId.isPresent()) {
            return byId;
        }
        return nodeOf(currentTop).filter(n -> graph.backends().stream().anyMatch(b -> n.equals(b.root())));
    }

    /** Node names for a new image: {@code vmsnap-N-format} over {@code vmsnap-N-storage}, N unused. */
    public DiskLayer newLayer(Path file, String format) {
        return DiskLayer.numbered(file, format, nextNode++);
    }
}
