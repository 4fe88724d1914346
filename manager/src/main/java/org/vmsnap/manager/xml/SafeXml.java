package org.vmsnap.manager.xml;

import java.io.StringReader;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;

import javax.xml.stream.Location;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * The one XML parser of the manager. Domain and snapshot XML comes from users and from other
 * tools, so a {@code <!DOCTYPE>} (and with it every entity declaration, internal or external)
 * is an error, never a file read, and an XInclude namespace is refused rather than ignored.
 * Comments and processing instructions are dropped, as libvirt drops them.
 */
public final class SafeXml {
    static final String XINCLUDE_NS = "http://www.w3.org/2001/XInclude";

    private SafeXml() {
    }

    /** Parses into a DOM document (attribute order is not kept by DOM; the manager itself uses its own tree). */
    public static Document parse(String xml, String what) throws InvalidInputException {
        XmlElement root = read(xml, what);
        Document doc = Domain.newDocument();
        doc.appendChild(toDom(doc, root));
        return doc;
    }

    /** Parses into the order-keeping tree; every failure is one line naming {@code what}. */
    static XmlElement read(String xml, String what) throws InvalidInputException {
        XMLStreamReader r = null;
        try {
            r = factory().createXMLStreamReader(new StringReader(xml));
            return readDocument(r, what);
        } catch (XMLStreamException e) {
            throw new InvalidInputException(what + ": malformed XML" + where(e.getLocation()) + ": "
                    + reason(e), e);
        } catch (ParserFailure e) {
            throw new InvalidInputException(what + ": malformed XML" + where(e.location) + ": " + e.getMessage(),
                    e.getCause());
        } finally {
            close(r);
        }
    }

    private static XmlElement readDocument(XMLStreamReader r, String what)
            throws XMLStreamException, InvalidInputException {
        Deque<XmlElement> open = new ArrayDeque<>();
        XmlElement root = null;
        while (r.hasNext()) {
            int event = next(r);
            switch (event) {
                case XMLStreamConstants.DTD -> throw new InvalidInputException(what + where(r.getLocation())
                        + ": <!DOCTYPE> is not allowed (no DTDs, no entities)");
                case XMLStreamConstants.START_ELEMENT -> {
                    XmlElement e = new XmlElement(r.getLocalName());
                    readAttributes(r, e, what);
                    if (open.isEmpty()) {
                        root = e;
                    } else {
                        open.peek().add(e);
                    }
                    open.push(e);
                }
                case XMLStreamConstants.END_ELEMENT -> open.pop();
                case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA, XMLStreamConstants.SPACE -> {
                    if (!open.isEmpty()) {
                        open.peek().add(r.getText());
                    }
                }
                case XMLStreamConstants.ENTITY_REFERENCE -> throw new InvalidInputException(what
                        + where(r.getLocation()) + ": entity reference &" + r.getLocalName() + "; is not allowed");
                default -> {
                    // comments, processing instructions, the XML declaration: dropped, as libvirt does
                }
            }
        }
        if (root == null) {
            throw new InvalidInputException(what + ": empty document");
        }
        mergeText(root);
        return root;
    }

    private static void readAttributes(XMLStreamReader r, XmlElement e, String what) throws InvalidInputException {
        for (int i = 0; i < r.getAttributeCount(); i++) {
            String prefix = r.getAttributePrefix(i);
            String name = prefix == null || prefix.isEmpty() ? r.getAttributeLocalName(i)
                    : prefix + ":" + r.getAttributeLocalName(i);
            String value = r.getAttributeValue(i);
            if ((name.equals("xmlns") || name.startsWith("xmlns:")) && XINCLUDE_NS.equals(value.strip())) {
                throw new InvalidInputException(what + where(r.getLocation()) + ": XInclude is not allowed");
            }
            e.set(name, value);
        }
    }

    /** Adjacent text pieces (text, CDATA, character references) become one string. */
    private static void mergeText(XmlElement e) {
        var kids = e.children();
        for (int i = 0; i < kids.size(); i++) {
            Object c = kids.get(i);
            if (c instanceof XmlElement child) {
                mergeText(child);
            } else if (i > 0 && kids.get(i - 1) instanceof String prev) {
                kids.set(i - 1, prev + c);
                kids.remove(i--);
            }
        }
    }

    private static XMLInputFactory factory() {
        XMLInputFactory f = XMLInputFactory.newDefaultFactory();
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        f.setProperty(XMLInputFactory.IS_REPLACING_ENTITY_REFERENCES, false);
        f.setProperty(XMLInputFactory.IS_NAMESPACE_AWARE, false);
        f.setProperty(XMLInputFactory.IS_COALESCING, true);
        f.setXMLResolver((publicId, systemId, base, ns) -> {
            throw new XMLStreamException("external resource " + systemId + " refused");
        });
        return f;
    }

    /**
     * The JDK's StAX parser reports some malformed input with a RuntimeException of its own
     * (found by XmlFuzzTest: an invalid character in a DTD ends in MissingResourceException
     * "InvalidCharInDTD", a message key its bundle lacks). Bad input is still bad input.
     */
    private static int next(XMLStreamReader r) throws XMLStreamException {
        try {
            return r.next();
        } catch (RuntimeException e) {
            String reason = e instanceof java.util.MissingResourceException m ? "the parser's error " + m.getKey()
                    : "the parser failed (" + e.getClass().getSimpleName() + ")";
            throw new ParserFailure(reason, r.getLocation(), e);
        }
    }

    /** A RuntimeException of the JDK's parser, with where it happened. */
    private static final class ParserFailure extends RuntimeException {
        final transient Location location;

        ParserFailure(String reason, Location location, RuntimeException cause) {
            super(reason, cause);
            this.location = location;
        }
    }

    private static String where(Location l) {
        return l == null || l.getLineNumber() < 0 ? "" : " (line " + l.getLineNumber() + ", column "
                + l.getColumnNumber() + ")";
    }

    /** The parser's reason without its "ParseError at [row,col]" preamble, on one line. */
    private static String reason(XMLStreamException e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        int i = m.indexOf("Message: ");
        return (i >= 0 ? m.substring(i + "Message: ".length()) : m).replace('\n', ' ').strip();
    }

    private static void close(XMLStreamReader r) {
        if (r != null) {
            try {
                r.close();
            } catch (XMLStreamException e) {
                // nothing was opened but the string reader
            }
        }
    }

    private static Element toDom(Document doc, XmlElement e) {
        Element out = doc.createElement(e.tag());
        for (Map.Entry<String, String> a : e.attributes().entrySet()) {
            out.setAttribute(a.getKey(), a.getValue());
        }
        for (Object c : e.children()) {
            out.appendChild(c instanceof XmlElement x ? toDom(doc, x) : doc.createTextNode((String) c));
        }
        return out;
    }
}
