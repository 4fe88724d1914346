package org.vmsnap.manager.xml;

import org.w3c.dom.Attr;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * Writes an element the way libvirt does: two-space indentation, attributes in single quotes,
 * empty elements as {@code <x/>}, no XML declaration. Whitespace-only text between elements is
 * dropped and re-indented; other text is kept, escaped.
 */
final class XmlWriter {
    private final StringBuilder out = new StringBuilder();

    static String write(Element root) {
        XmlWriter w = new XmlWriter();
        w.element(root, 0);
        return w.out.toString();
    }

    private void element(Element e, int depth) {
        indent(depth);
        out.append('<').append(e.getTagName());
        NamedNodeMap attrs = e.getAttributes();
        for (int i = 0; i < attrs.getLength(); i++) {
            Attr a = (Attr) attrs.item(i);
            out.append(' ').append(a.getName()).append("='").append(escape(a.getValue(), true)).append('\'');
        }
        boolean hasElements = false;
        StringBuilder text = new StringBuilder();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE) {
                hasElements = true;
            } else if (n.getNodeType() == Node.TEXT_NODE || n.getNodeType() == Node.CDATA_SECTION_NODE) {
                text.append(n.getNodeValue());
            }
        }
        if (!hasElements) {
            if (text.isEmpty()) {
                out.append("/>\n");
            } else {
                out.append('>').append(escape(text.toString(), false)).append("</").append(e.getTagName())
                        .append(">\n");
            }
            return;
        }
        out.append(">\n");
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE) {
                element((Element) n, depth + 1);
            }
        }
        indent(depth);
        out.append("</").append(e.getTagName()).append(">\n");
    }

    private void indent(int depth) {
        out.append("  ".repeat(depth));
    }

    static String escape(String s, boolean attribute) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '\'' -> b.append(attribute ? "&apos;" : "'");
                case '"' -> b.append(attribute ? "&quot;" : "\"");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
