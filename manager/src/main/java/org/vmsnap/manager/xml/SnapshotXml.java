package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** libvirt's {@code <domainsnapshot>} XML to and from {@link SnapshotDef}. */
public final class SnapshotXml {
    private SnapshotXml() {
    }

    public static SnapshotDef parse(String xml) throws InvalidInputException {
        Element root = SafeXml.parse(xml, "snapshot XML").getDocumentElement();
        if (!"domainsnapshot".equals(root.getTagName())) {
            throw new InvalidInputException("snapshot XML: root element is <" + root.getTagName()
                    + ">, expected <domainsnapshot>");
        }
        String name = Domain.text(root, "name");
        if (name != null) {
            Names.checkSnapshotName(name);
        }
        String description = Domain.text(root, "description");
        String state = Domain.text(root, "state");
        String ct = Domain.text(root, "creationTime");
        long creation;
        try {
            creation = ct == null ? 0 : Long.parseLong(ct);
        } catch (NumberFormatException e) {
            throw new InvalidInputException("snapshot XML: creationTime '" + ct + "' is not a number");
        }
        Element parentEl = Domain.child(root, "parent");
        String parent = parentEl == null ? null : Domain.text(parentEl, "name");
        Element mem = Domain.child(root, "memory");
        SnapshotMode memMode = null;
        Path memFile = null;
        if (mem != null) {
            memMode = SnapshotMode.parse(mem.getAttribute("snapshot"));
            memFile = mem.getAttribute("file").isEmpty() ? null : Path.of(mem.getAttribute("file"));
        }
        List<SnapshotDisk> disks = new ArrayList<>();
        Element disksEl = Domain.child(root, "disks");
        if (disksEl != null) {
            for (Element d : Domain.children(disksEl, "disk")) {
                String dn = d.getAttribute("name");
                if (dn.isEmpty()) {
                    throw new InvalidInputException("snapshot XML: a <disk> has no name");
                }
                String m = d.getAttribute("snapshot");
                Element src = Domain.child(d, "source");
                Path file = src == null || src.getAttribute("file").isEmpty() ? null
                        : Path.of(src.getAttribute("file"));
                Element drv = Domain.child(d, "driver");
                String type = drv == null || drv.getAttribute("type").isEmpty() ? null : drv.getAttribute("type");
                SnapshotMode mode = m.isEmpty() ? (file != null ? SnapshotMode.EXTERNAL : null) : SnapshotMode.parse(m);
                disks.add(new SnapshotDisk(dn, mode, file, type));
            }
        }
        Element dom = Domain.child(root, "domain");
        Domain domain = dom == null ? null : Domain.of(dom);
        return new SnapshotDef(name, description, state, creation, parent, memMode, memFile, disks, domain);
    }

    public static String format(SnapshotDef s) {
        Document doc = Domain.newDocument();
        Element root = doc.createElement("domainsnapshot");
        doc.appendChild(root);
        text(root, "name", s.name());
        text(root, "description", s.description());
        text(root, "state", s.state());
        if (s.parent() != null) {
            Element p = doc.createElement("parent");
            root.appendChild(p);
            text(p, "name", s.parent());
        }
        if (s.creationTimeSec() != 0) {
            text(root, "creationTime", Long.toString(s.creationTimeSec()));
        }
        if (s.memoryMode() != null) {
            Element m = doc.createElement("memory");
            m.setAttribute("snapshot", s.memoryMode().xmlName());
            if (s.memoryFile() != null) {
                m.setAttribute("file", s.memoryFile().toString());
            }
            root.appendChild(m);
        }
        if (!s.disks().isEmpty()) {
            Element ds = doc.createElement("disks");
            root.appendChild(ds);
            for (SnapshotDisk d : s.disks()) {
                Element e = doc.createElement("disk");
                e.setAttribute("name", d.name());
                if (d.mode() != null) {
                    e.setAttribute("snapshot", d.mode().xmlName());
                }
                if (d.driverType() != null) {
                    Element drv = doc.createElement("driver");
                    drv.setAttribute("type", d.driverType());
                    e.appendChild(drv);
                }
                if (d.source() != null) {
                    Element src = doc.createElement("source");
                    src.setAttribute("file", d.source().toString());
                    e.appendChild(src);
                }
                ds.appendChild(e);
            }
        }
        if (s.domain() != null) {
            root.appendChild(doc.importNode(s.domain().element(), true));
        }
        return XmlWriter.write(root);
    }

    private static void text(Element parent, String tag, String value) {
        if (value != null) {
            Element e = parent.getOwnerDocument().createElement(tag);
            e.setTextContent(value);
            parent.appendChild(e);
        }
    }
}
