package org.vmsnap.manager.xml;

/**
 * XML escaping of text and attribute values, in the three flavours vmsnap has to match byte for
 * byte: libvirt's virBufferEscapeString as virsh uses it to build a document from arguments,
 * the same with line breaks and tabs kept as character references (how vmsnap writes the XML it
 * stores, so that a value reads back unchanged), and libxml2's serializer (the applications'
 * XML inside {@code <metadata>}).
 */
public final class XmlText {
    private XmlText() {
    }

    /**
     * {@code < > & ' "} as entities, everything else as it is: virBufferEscapeString, which virsh
     * uses for text and single-quoted attribute values alike (snapshot-create-as --print-xml).
     */
    public static String escape(String s) {
        return escape(s, false, false, false);
    }

    /**
     * {@link #escape(String)} plus a carriage return as {@code &#13;} and, in an attribute, a line
     * break or tab as {@code &#10;}/{@code &#9;}: raw there, XML attribute normalisation would
     * bring them back as spaces.
     */
    static String escapeStored(String s, boolean attribute) {
        return escape(s, false, true, attribute);
    }

    /**
     * libxml2's escaping (xmlAttrSerializeTxtContent, xmlEscapeContent): {@code ' } never, and
     * {@code "} only in (double-quoted) attributes; line breaks as in {@link #escapeStored}.
     */
    static String escapeLibxml(String s, boolean attribute) {
        return escape(s, true, true, attribute);
    }

    private static String escape(String s, boolean libxml, boolean references, boolean attribute) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '\'' -> b.append(libxml ? "'" : "&apos;");
                case '"' -> b.append(libxml && !attribute ? "\"" : "&quot;");
                case '\n' -> b.append(references && attribute ? "&#10;" : "\n");
                case '\r' -> b.append(references ? "&#13;" : "\r");
                case '\t' -> b.append(references && attribute ? "&#9;" : "\t");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
