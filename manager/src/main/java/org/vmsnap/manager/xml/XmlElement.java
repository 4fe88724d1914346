package org.vmsnap.manager.xml;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An XML element as libvirt sees one: a tag, attributes <em>in document order</em>, and children
 * that are elements or text. The JDK's DOM keeps attributes sorted by name, so writing a
 * {@code <disk type='file' device='disk'>} back through it would reorder them; this small tree
 * keeps the order so that libvirt's own output round-trips byte for byte.
 *
 * <p>Mutable only while a document is built or while a private copy is edited; {@link Domain}
 * never hands one out.
 */
final class XmlElement {
    private final String tag;
    private final Map<String, String> attributes = new LinkedHashMap<>();
    /** {@link XmlElement} or {@link String} (text, already unescaped). */
    private final List<Object> children = new ArrayList<>();

    XmlElement(String tag) {
        this.tag = tag;
    }

    String tag() {
        return tag;
    }

    /** The attribute's value, or null when absent. */
    String attr(String name) {
        return attributes.get(name);
    }

    /** The attribute's value, or {@code dflt} when absent or empty. */
    String attr(String name, String dflt) {
        String v = attributes.get(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    /** Sets an attribute; a new one goes last, as libvirt appends attributes it adds. */
    XmlElement set(String name, String value) {
        attributes.put(name, value);
        return this;
    }

    Map<String, String> attributes() {
        return attributes;
    }

    List<Object> children() {
        return children;
    }

    XmlElement add(Object child) {
        children.add(child);
        return this;
    }

    /** Appends a new child element and returns it. */
    XmlElement addElement(String childTag) {
        XmlElement e = new XmlElement(childTag);
        children.add(e);
        return e;
    }

    /** Appends {@code <childTag>text</childTag>} when text is not null. */
    void addText(String childTag, String text) {
        if (text != null) {
            addElement(childTag).add(text);
        }
    }

    void insertBefore(XmlElement child, Object ref) {
        int i = ref == null ? -1 : children.indexOf(ref);
        children.add(i < 0 ? children.size() : i, child);
    }

    void insertAfter(XmlElement child, Object ref) {
        int i = ref == null ? -1 : children.indexOf(ref);
        children.add(i < 0 ? 0 : i + 1, child);
    }

    void remove(Object child) {
        children.remove(child);
    }

    XmlElement child(String childTag) {
        for (Object c : children) {
            if (c instanceof XmlElement e && e.tag.equals(childTag)) {
                return e;
            }
        }
        return null;
    }

    List<XmlElement> children(String childTag) {
        List<XmlElement> out = new ArrayList<>();
        for (Object c : children) {
            if (c instanceof XmlElement e && e.tag.equals(childTag)) {
                out.add(e);
            }
        }
        return out;
    }

    boolean hasElements() {
        return children.stream().anyMatch(c -> c instanceof XmlElement);
    }

    /** All text directly inside this element, unchanged (no trimming: descriptions keep their spaces). */
    String text() {
        StringBuilder b = new StringBuilder();
        for (Object c : children) {
            if (c instanceof String s) {
                b.append(s);
            }
        }
        return b.toString();
    }

    /**
     * The text of a child element exactly as written, or null when there is no such child: names
     * keep their spaces (libvirt does not trim them, and " sp" is not "sp").
     */
    String childTextExact(String childTag) {
        XmlElement e = child(childTag);
        return e == null ? null : e.text();
    }

    /** The text of a child element, stripped, or null when there is no such child. */
    String childText(String childTag) {
        XmlElement e = child(childTag);
        return e == null ? null : e.text().strip();
    }

    /** Replaces this element's content by one text. */
    void setText(String text) {
        children.clear();
        children.add(text);
    }

    XmlElement deepCopy() {
        XmlElement copy = new XmlElement(tag);
        copy.attributes.putAll(attributes);
        for (Object c : children) {
            copy.children.add(c instanceof XmlElement e ? e.deepCopy() : c);
        }
        return copy;
    }
}
