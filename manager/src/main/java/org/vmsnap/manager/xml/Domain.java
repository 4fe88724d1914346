package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Document;

/**
 * A domain definition: the subset of libvirt's domain XML vmsnap uses, over the whole parsed
 * document so that everything vmsnap does not use is written back unchanged, in libvirt's
 * layout, by {@link #toXml()}: {@code virsh dumpxml} output comes back byte for byte.
 * Immutable: the {@code with...} methods change a copy.
 */
public final class Domain {
    private final XmlElement root;
    private final String name;
    private final String uuid;
    private final List<DiskDef> disks;
    private final DomainResources resources;

    private Domain(XmlElement root) throws InvalidInputException {
        this.root = root;
        if (!"domain".equals(root.tag())) {
            throw new InvalidInputException("domain XML: root element is <" + root.tag() + ">, expected <domain>");
        }
        this.name = root.childTextExact("name");
        if (name == null || name.isBlank()) {
            throw new InvalidInputException("domain XML: missing <name>");
        }
        Names.checkDomainName(name);
        this.uuid = root.childText("uuid");
        if (uuid != null) {
            Uuids.check("domain " + name, uuid);
        }
        this.resources = DomainResources.read(root, name);
        this.disks = DomainDisks.read(root, name);
    }

    /** Parses a libvirt domain XML document. */
    public static Domain parse(String xml) throws InvalidInputException {
        return new Domain(SafeXml.read(xml, "domain XML"));
    }

    /** Wraps a {@code <domain>} element (for example the copy inside a snapshot); the element is copied. */
    static Domain of(XmlElement domainElement) throws InvalidInputException {
        return new Domain(domainElement.deepCopy());
    }

    public String name() {
        return name;
    }

    /** The UUID as written, or null when the XML has none (define assigns one). */
    public String uuid() {
        return uuid;
    }

    public List<DiskDef> disks() {
        return disks;
    }

    public Optional<DiskDef> disk(String target) {
        return disks.stream().filter(d -> d.target().equals(target)).findFirst();
    }

    /** {@code <memory>} in KiB, whatever unit the XML used (libvirt's conversion, rounded up). */
    public long memoryKiB() {
        return resources.memoryKiB();
    }

    /** {@code <currentMemory>} in KiB; the maximum when absent, never above it (as libvirt). */
    public long currentMemoryKiB() {
        return resources.currentMemoryKiB();
    }

    /** The maximum vCPU count, {@code <vcpu>N</vcpu>}; 1 when absent. */
    public int vcpus() {
        return resources.vcpus();
    }

    /** The vCPUs online at boot, {@code <vcpu current=...>}; {@link #vcpus()} when absent. */
    public int currentVcpus() {
        return resources.currentVcpus();
    }

    /** {@code <on_poweroff>}, {@code <on_reboot>} or {@code <on_crash>} as written, or null. */
    public String lifecycleAction(String element) {
        String t = root.childText(element);
        return t == null || t.isEmpty() ? null : t;
    }

    /** {@code <os><type>}: hvm unless the XML says otherwise. */
    public String osType() {
        XmlElement os = root.child("os");
        String t = os == null ? null : os.childText("type");
        return t == null || t.isEmpty() ? "hvm" : t;
    }

    /** Direct kernel boot: {@code <os><kernel>}, or null. */
    public String kernel() {
        return resources.kernel();
    }

    /** {@code <os><initrd>}, or null. */
    public String initrd() {
        return resources.initrd();
    }

    /** {@code <os><cmdline>} as written, or null. */
    public String cmdline() {
        return resources.cmdline();
    }

    /**
     * Every line of the domain XML that vmsnap cannot start (elements and attributes outside
     * {@link DomainSupport}'s allow-list), in document order; empty when it can.
     */
    public List<String> unsupportedElements() {
        return DomainSupport.problems(root, name);
    }

    /** The hardware the domain describes, for starting it (values as written; judged by the translator). */
    public DomainHardware hardware() throws InvalidInputException {
        return HardwareReader.read(root, name, resources);
    }

    /** A copy with the disk {@code target}'s image replaced (source file and driver type). */
    public Domain withDisk(String target, Path source, String format) {
        XmlElement copy = root.deepCopy();
        DomainDisks.setSource(copy, target, source, format);
        return wrap(copy);
    }

    /** A copy with this UUID (placed after {@code <name>}, where libvirt writes it). */
    public Domain withUuid(String newUuid) {
        XmlElement copy = root.deepCopy();
        XmlElement u = copy.child("uuid");
        if (u == null) {
            u = new XmlElement("uuid");
            copy.insertAfter(u, copy.child("name"));
        }
        u.setText(newUuid);
        return wrap(copy);
    }

    /** The {@code <domain>} element, for embedding in a snapshot document (copy it, do not modify it). */
    XmlElement element() {
        return root;
    }

    /** virsh dumpxml's layout. */
    public String toXml() {
        return XmlWriter.write(root);
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

    private static Domain wrap(XmlElement copy) {
        try {
            return new Domain(copy);
        } catch (InvalidInputException e) {
            throw new IllegalStateException("a valid domain became invalid: " + e.getMessage(), e);
        }
    }

    static Document newDocument() {
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
        } catch (ParserConfigurationException e) {
            throw new IllegalStateException(e);
        }
    }
}
