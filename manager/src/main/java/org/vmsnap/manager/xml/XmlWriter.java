package org.vmsnap.manager.xml;

import java.util.Map;

/**
 * Writes an element the way libvirt does: two-space indentation, attributes in their order and
 * in single quotes, empty elements as {@code <x/>}, no XML declaration, a final newline, and
 * {@code < > & ' "} escaped in text as well as in attributes (libvirt's virBufferEscapeString;
 * {@link XmlText} has the rules).
 * Whitespace-only text between elements is layout and is re-indented; an element whose text is
 * more than layout (mixed content) is written inline exactly as read.
 *
 * <p>Inside {@code <metadata>} libvirt keeps the applications' XML as a libxml2 node and prints
 * it with libxml2's own serializer, so there attributes are double-quoted and only
 * {@code < > &} (and {@code "} in attributes) are escaped.
 */
final class XmlWriter {
    private final StringBuilder out = new StringBuilder();

    private XmlWriter() {
    }

    static String write(XmlElement root) {
        XmlWriter w = new XmlWriter();
        w.element(root, 0, false);
        return w.out.toString();
    }

    private void element(XmlElement e, int depth, boolean libxml) {
        out.append("  ".repeat(depth));
        if (!e.hasElements() && isLayoutOnly(e)) {
            // libvirt writes some elements as an open/close pair even when empty ({@code <devices>}):
            // a line break between the tags is layout, re-indented like any other.
            startTag(e, libxml);
            out.append(">\n").append("  ".repeat(depth)).append("</").append(e.tag()).append('>');
        } else if (!e.hasElements() || isMixed(e)) {
            inline(e, libxml);
        } else {
            startTag(e, libxml);
            out.append(">\n");
            for (Object c : e.children()) {
                if (c instanceof XmlElement child) {
                    element(child, depth + 1, libxml || e.tag().equals("metadata"));
                }
            }
            out.append("  ".repeat(depth)).append("</").append(e.tag()).append('>');
        }
        out.append('\n');
    }

    /** The element and everything in it on the current line, text exactly as it is. */
    private void inline(XmlElement e, boolean libxml) {
        startTag(e, libxml);
        if (e.children().isEmpty() || (!e.hasElements() && e.text().isEmpty())) {
            out.append("/>");
            return;
        }
        out.append('>');
        for (Object c : e.children()) {
            if (c instanceof XmlElement child) {
                inline(child, libxml || e.tag().equals("metadata"));
            } else {
                String text = (String) c;
                out.append(libxml ? XmlText.escapeLibxml(text, false) : XmlText.escapeStored(text, false));
            }
        }
        out.append("</").append(e.tag()).append('>');
    }

    private void startTag(XmlElement e, boolean libxml) {
        out.append('<').append(e.tag());
        for (Map.Entry<String, String> a : e.attributes().entrySet()) {
            out.append(' ').append(a.getKey());
            if (libxml) {
                out.append("=\"").append(XmlText.escapeLibxml(a.getValue(), true)).append('"');
            } else {
                out.append("='").append(XmlText.escapeStored(a.getValue(), true)).append('\'');
            }
        }
    }

    private static boolean isLayoutOnly(XmlElement e) {
        String t = e.text();
        return t.isBlank() && t.indexOf('\n') >= 0;
    }

    private static boolean isMixed(XmlElement e) {
        return e.children().stream().anyMatch(c -> c instanceof String s && !s.isBlank());
    }
}
