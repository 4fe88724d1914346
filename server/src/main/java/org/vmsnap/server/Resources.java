package org.vmsnap.server;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.qcow2.ImageChain;
import org.vmsnap.qcow2.OpenOptions;

/**
 * The read-only resources, built from the same manager calls as the CLI's list, dominfo,
 * domblklist, snapshot-list and snapshot-info. Field names follow libvirt's XML and virsh's
 * words; maps keep insertion order so the JSON reads like the XML.
 */
final class Resources {
    private final DomainService domains;

    Resources(DomainService domains) {
        this.domains = domains;
    }

    /** GET /api/domains: every defined domain, as {@code list --all}. */
    List<Map<String, Object>> domains() throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Domain d : domains.list()) {
            out.add(summary(d, domains.status(d.name())));
        }
        return out;
    }

    private static Map<String, Object> summary(Domain d, DomainStatus s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("uuid", d.uuid());
        m.put("state", s.state().words());
        if (s.active()) {
            m.put("id", s.id());
        }
        return m;
    }

    /** GET /api/domains/{name}: state and disks, each with its image chain, top first. */
    Map<String, Object> domain(String name) throws IOException {
        DomainStatus status = domains.status(name);
        Domain d = domains.snapshots(name).domain();
        Map<String, Object> m = summary(d, status);
        m.put("reason", status.reason());
        List<Map<String, Object>> disks = new ArrayList<>();
        for (DiskDef disk : d.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("target", disk.target());
            dm.put("device", disk.device());
            dm.put("bus", disk.bus());
            dm.put("format", disk.format());
            dm.put("source", disk.source() == null ? null : disk.source().toString());
            dm.put("readonly", disk.readOnly());
            dm.put("backingStore", disk.source() == null || !disk.isQcow2() ? List.of() : backing(disk));
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }

    /** The images below the disk's top image, as libvirt's nested {@code <backingStore>}, flattened. */
    private static List<Map<String, Object>> backing(DiskDef disk) throws IOException {
        List<ImageChain.Member> chain = ImageChain.describe(disk.source(), OpenOptions.readOnlyOpen());
        List<Map<String, Object>> out = new ArrayList<>();
        for (ImageChain.Member member : chain.subList(1, chain.size())) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("source", member.realPath().toString());
            b.put("format", member.info().format());
            out.add(b);
        }
        return out;
    }

    /** GET /api/domains/{name}/snapshots: every snapshot, parents before children. */
    List<Map<String, Object>> snapshots(String name) throws IOException {
        SnapshotTree tree = domains.snapshots(name).tree();
        List<SnapshotDef> order = tree.topological();
        // Descendants counted in one pass from the leaves up (a walk per snapshot is quadratic on a chain).
        Map<String, Integer> below = new HashMap<>();
        for (int i = order.size() - 1; i >= 0; i--) {
            int count = 0;
            for (SnapshotDef child : tree.children(order.get(i).name())) {
                count += below.getOrDefault(child.name(), 0) + 1;
            }
            below.put(order.get(i).name(), count);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (SnapshotDef s : order) {
            out.add(snapshot(tree, s, below.get(s.name())));
        }
        return out;
    }

    /** GET /api/domains/{name}/snapshots/{snapshot}: one snapshot, as in the list. */
    Map<String, Object> snapshot(String name, String snapshot) throws IOException {
        SnapshotTree tree = domains.snapshots(name).tree();
        return snapshot(tree, tree.get(snapshot));
    }

    /**
     * GET /api/domains/{name}/tree: the snapshots in {@link TreeLayout}'s rows and columns, with
     * what the page shows of each (kind, current marker, time, description).
     */
    Map<String, Object> tree(String name) throws IOException {
        SnapshotTree tree = domains.snapshots(name).tree();
        List<TreeLayout.Placed> placed = TreeLayout.layout(tree.all());
        int columns = 0;
        List<Map<String, Object>> nodes = new ArrayList<>(placed.size());
        for (TreeLayout.Placed p : placed) {
            SnapshotDef s = p.snapshot();
            columns = Math.max(columns, p.column() + 1);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("parent", s.parent());
            m.put("row", p.row());
            m.put("column", p.column());
            m.put("current", s.name().equals(tree.current()));
            m.put("state", s.state());
            m.put("creationTime", s.creationTimeSec());
            m.put("description", s.description());
            m.put("location", s.location());
            m.put("memory", s.memoryMode() == null ? null : s.memoryMode().xmlName());
            nodes.add(m);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("domain", name);
        m.put("current", tree.current());
        m.put("rows", placed.size());
        m.put("columns", columns);
        m.put("nodes", nodes);
        return m;
    }

    /** The fields of snapshot-info and snapshot-dumpxml's header, disk and memory modes. */
    static Map<String, Object> snapshot(SnapshotTree tree, SnapshotDef s) {
        return snapshot(tree, s, tree.descendants(s.name()).size());
    }

    private static Map<String, Object> snapshot(SnapshotTree tree, SnapshotDef s, int descendants) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("parent", s.parent());
        m.put("current", s.name().equals(tree.current()));
        m.put("state", s.state());
        m.put("creationTime", s.creationTimeSec());
        m.put("description", s.description());
        m.put("location", s.location());
        m.put("children", tree.children(s.name()).size());
        m.put("descendants", descendants);
        Map<String, Object> memory = new LinkedHashMap<>();
        memory.put("snapshot", s.memoryMode() == null ? null : s.memoryMode().xmlName());
        memory.put("file", s.memoryFile() == null ? null : s.memoryFile().toString());
        m.put("memory", memory);
        List<Map<String, Object>> disks = new ArrayList<>();
        for (SnapshotDisk d : s.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("name", d.name());
            dm.put("snapshot", d.mode() == null ? null : d.mode().xmlName());
            dm.put("source", d.source() == null ? null : d.source().toString());
            dm.put("driver", d.driverType());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }
}
