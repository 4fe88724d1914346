package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * A domain definition: the subset of libvirt's domain XML vmsnap uses, over the whole parsed
 * document so that everything vmsnap does not use is written back unchanged by {@link #toXml()}.
 * Immutable: the {@code with...} methods change a copy.
 */
public final class Domain {
    private final Document doc;
    private final String name;
    private final String uuid;
    private final List<DiskDef> disks;

    private Domain(Document doc) throws InvalidInputException {
        this.doc = doc;
        Element root = doc.getDocumentElement();
        if (!"domain".equals(root.getTagName())) {
            throw new InvalidInputException("domain XML: root element is <" + root.getTagName()
                    + ">, expected <domain>");
        }
        this.name = text(root, "name");
        if (name == null || name.isBlank()) {
            throw new InvalidInputException("domain XML: missing <name>");
        }
        Names.checkDomainName(name);
        this.uuid = text(root, "uuid");
        this.disks = DomainDisks.read(root, name);
    }

    /** Parses a libvirt domain XML document. */
    public static Domain parse(String xml) throws InvalidInputException {
        return new Domain(SafeXml.parse(xml, "domain XML"));
    }

    /** Wraps a {@code <domain>} element (for example the copy inside a snapshot); the element is copied. */
    static Domain of(Element domainElement) throws InvalidInputException {
        Document d = newDocument();
        d.appendChild(d.importNode(domainElement, true));
        return new Domain(d);
    }

    public String name() {
        return name;
    }

    /** The UUID, or null when the XML has none (define assigns one). */
    public String uuid() {
        return uuid;
    }

    public List<DiskDef> disks() {
        return disks;
    }

    public Optional<DiskDef> disk(String target) {
        return disks.stream().filter(d -> d.target().equals(target)).findFirst();
    }

    /** A copy with the disk {@code target}'s image replaced (source file and driver type). */
    public Domain withDisk(String target, Path source, String format) {
        Document copy = copyDocument();
        DomainDisks.setSource(copy.getDocumentElement(), target, source, format);
        return wrap(copy);
    }

    /** A copy with this UUID. */
    public Domain withUuid(String newUuid) {
        Document copy = copyDocument();
        Element root = copy.getDocumentElement();
        Element u = child(root, "uuid");
        if (u == null) {
            u = copy.createElement("uuid");
            Element n = child(root, "name");
            root.insertBefore(u, n == null ? root.getFirstChild() : n.getNextSibling());
        }
        u.setTextContent(newUuid);
        return wrap(copy);
    }

    /** The {@code <domain>} element, for embedding in a snapshot document (import it, do not modify it). */
    Element element() {
        return doc.getDocumentElement();
    }

    /** virsh dumpxml's layout. */
    public String toXml() {
        return XmlWriter.write(doc.getDocumentElement());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Domain other && toXml().equals(other.toXml());
    }

    @Override
    public int hashCode() {
        return toXml().hashCode();
    }

    @Override
    public String toString() {
        return "Domain[" + name + "]";
    }

    private Document copyDocument() {
        Document d = newDocument();
        d.appendChild(d.importNode(doc.getDocumentElement(), true));
        return d;
    }

    private static Domain wrap(Document d) {
        try {
            return new Domain(d);
        } catch (InvalidInputException e) {
            throw new IllegalStateException("a valid domain became invalid: " + e.getMessage(), e);
        }
    }

    static Document newDocument() {
        try {
            return javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
        } catch (javax.xml.parsers.ParserConfigurationException e) {
            throw new IllegalStateException(e);
        }
    }

    static Element child(Element parent, String tag) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                return e;
            }
        }
        return null;
    }

    static List<Element> children(Element parent, String tag) {
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                out.add(e);
            }
        }
        return out;
    }

    static String text(Element parent, String tag) {
        Element e = child(parent, tag);
        return e == null ? null : e.getTextContent().strip();
    }
}
