package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.InvalidInputException;

/**
 * libvirt's {@code <domainsnapshot>} XML to and from {@link SnapshotDef}.
 *
 * <p>{@link #parse} takes what libvirt writes (snapshot-dumpxml, and its private files with
 * {@code <active>}, {@code <inactiveDomain>} and {@code <cookie>}, which vmsnap does not use and
 * drops) as well as a user's request (name, description, disks only). {@link #format} writes
 * exactly what snapshot-dumpxml prints for the same snapshot.
 *
 * <p>vmsnap's store keeps one fact more, as libvirt keeps its driver's in its private files: in
 * {@code <cookie>} (libvirt's schema allows any element there; libvirt reads its own and ignores
 * the rest, and only from its private files), an element of vmsnap's namespace saying whether a
 * checkpoint was taken with the guest's filesystems frozen. {@link #formatStored} writes it and
 * {@link #parseStored} reads it; a user's XML is parsed without it, as libvirt parses a redefine.
 */
public final class SnapshotXml {
    /** libvirt's snapshot states (virDomainSnapshotState, without "nostate"). */
    private static final Set<String> STATES = Set.of("running", "blocked", "paused", "shutdown", "shutoff",
            "crashed", "pmsuspended", "disk-snapshot");

    private SnapshotXml() {
    }

    /** vmsnap's namespace for what it keeps in {@code <cookie>}. */
    static final String VMSNAP_NS = "http://vmsnap.org/schemas/snapshot/1.0";
    private static final String CHECKPOINT = "vmsnap:checkpoint";

    /** A request or libvirt's XML: a {@code <cookie>} is dropped. */
    public static SnapshotDef parse(String xml) throws InvalidInputException {
        return parse(SafeXml.read(xml, "snapshot XML"));
    }

    /** A file of vmsnap's store (or its mirror): with vmsnap's record from {@code <cookie>}. */
    public static SnapshotDef parseStored(String xml) throws InvalidInputException {
        XmlElement root = SafeXml.read(xml, "snapshot XML");
        return parse(root).withQuiesced(quiesced(root.child("cookie")));
    }

    private static SnapshotDef parse(XmlElement root) throws InvalidInputException {
        if (!"domainsnapshot".equals(root.tag())) {
            throw new InvalidInputException("snapshot XML: root element is <" + root.tag()
                    + ">, expected <domainsnapshot>");
        }
        String name = root.childTextExact("name");
        if (name != null) {
            Names.checkSnapshotName(name);
        }
        XmlElement desc = root.child("description");
        String state = root.childText("state");
        if (state != null && !STATES.contains(state)) {
            throw new InvalidInputException("snapshot XML: invalid state '" + state + "'");
        }
        XmlElement parentEl = root.child("parent");
        String parent = parentEl == null ? null : parentEl.childTextExact("name");
        if (parent != null) {
            Names.checkSnapshotName(parent);
        }
        checkActive(root.childText("active"));
        Domain domain = domain(root.child("domain"));
        XmlElement mem = root.child("memory");
        SnapshotMode memMode = mem == null ? null : memoryMode(mem);
        String memFile = mem == null ? null : mem.attr("file", null);
        XmlElement disks = root.child("disks");
        return new SnapshotDef(name, desc == null ? null : desc.text(), state, creationTime(root), parent,
                memMode, memFile == null ? null : Path.of(memFile),
                disks == null ? List.of() : SnapshotDisksXml.read(disks, domain), domain);
    }

    /** snapshot-dumpxml's layout: name, description, state, parent, creationTime, memory, disks, domain. */
    public static String format(SnapshotDef s) {
        return XmlWriter.write(element(s));
    }

    /**
     * The store's file: {@link #format}'s, then (as libvirt's private files put theirs after the
     * domain) a {@code <cookie>} with vmsnap's record when there is one.
     */
    public static String formatStored(SnapshotDef s) {
        XmlElement root = element(s);
        if (s.quiesced() != null) {
            root.addElement("cookie").addElement(CHECKPOINT).set("xmlns:vmsnap", VMSNAP_NS)
                    .set("quiesced", s.quiesced() ? "yes" : "no");
        }
        return XmlWriter.write(root);
    }

    /**
     * vmsnap's record in a stored file's {@code <cookie>}; null when there is none (older metadata,
     * libvirt's cookie). Only vmsnap's element in vmsnap's namespace counts.
     */
    private static Boolean quiesced(XmlElement cookie) throws InvalidInputException {
        if (cookie == null) {
            return null;
        }
        for (XmlElement e : cookie.children(CHECKPOINT)) {
            if (!VMSNAP_NS.equals(e.attr("xmlns:vmsnap"))) {
                continue;
            }
            String q = e.attr("quiesced");
            if (q == null) {
                return null;
            }
            if (!q.equals("yes") && !q.equals("no")) {
                throw new InvalidInputException("snapshot XML: <" + CHECKPOINT + " quiesced='" + q
                        + "'>, expected yes or no");
            }
            return q.equals("yes");
        }
        return null;
    }

    private static XmlElement element(SnapshotDef s) {
        XmlElement root = new XmlElement("domainsnapshot");
        root.addText("name", s.name());
        root.addText("description", s.description());
        root.addText("state", s.state());
        if (s.parent() != null) {
            root.addElement("parent").addText("name", s.parent());
        }
        if (s.creationTimeSec() != 0) {
            root.addText("creationTime", Long.toString(s.creationTimeSec()));
        }
        if (s.memoryMode() != null) {
            XmlElement m = root.addElement("memory").set("snapshot", s.memoryMode().xmlName());
            if (s.memoryFile() != null) {
                m.set("file", s.memoryFile().toString());
            }
        }
        SnapshotDisksXml.write(root, s.disks());
        if (s.domain() != null) {
            root.add(s.domain().element());
        }
        return root;
    }

    private static long creationTime(XmlElement root) throws InvalidInputException {
        String ct = root.childText("creationTime");
        if (ct == null) {
            return 0;
        }
        if (ct.isEmpty() || ct.length() > 19 || !ct.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidInputException("snapshot XML: creationTime '" + ct + "' is not a number of seconds");
        }
        return Long.parseLong(ct);
    }

    /** libvirt's rules for {@code <memory>}: a file means external, external needs an absolute file. */
    private static SnapshotMode memoryMode(XmlElement mem) throws InvalidInputException {
        String file = mem.attr("file", null);
        String m = mem.attr("snapshot");
        SnapshotMode mode = m == null ? (file == null ? null : SnapshotMode.EXTERNAL) : SnapshotMode.parse(m);
        if (mode == SnapshotMode.MANUAL) {
            throw new InvalidInputException("snapshot XML: 'manual' memory snapshot mode is not supported");
        }
        if (file != null && mode != SnapshotMode.EXTERNAL) {
            throw new InvalidInputException("snapshot XML: memory file '" + file + "' requires snapshot='external'");
        }
        if (file == null && mode == SnapshotMode.EXTERNAL) {
            throw new InvalidInputException("snapshot XML: an external memory snapshot needs file=...");
        }
        if (file != null && !Path.of(file).isAbsolute()) {
            throw new InvalidInputException("snapshot XML: memory file '" + file + "' must be an absolute path");
        }
        return mode;
    }

    /** The domain copy; libvirt's oldest snapshots hold only {@code <domain><uuid>}, which carries no definition. */
    private static Domain domain(XmlElement dom) throws InvalidInputException {
        if (dom == null || (dom.attr("type") == null && dom.child("name") == null)) {
            return null;
        }
        return Domain.of(dom);
    }

    private static void checkActive(String active) throws InvalidInputException {
        if (active != null && !active.equals("0") && !active.equals("1")) {
            throw new InvalidInputException("snapshot XML: <active> is '" + active + "', expected 0 or 1");
        }
    }
}
