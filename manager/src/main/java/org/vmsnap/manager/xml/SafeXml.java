package org.vmsnap.manager.xml;

import java.io.IOException;
import java.io.StringReader;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/**
 * The one XML parser of the manager. Domain and snapshot XML comes from users and from other
 * tools, so DTDs (and with them every entity, internal or external) and XInclude are refused
 * outright rather than resolved: a {@code <!DOCTYPE>} is an error, never a file read.
 */
public final class SafeXml {
    private SafeXml() {
    }

    public static Document parse(String xml, String what) throws InvalidInputException {
        try {
            DocumentBuilder builder = factory().newDocumentBuilder();
            builder.setErrorHandler(null);
            builder.setEntityResolver((publicId, systemId) -> {
                throw new SAXException("external entity " + systemId + " refused");
            });
            return builder.parse(new InputSource(new StringReader(xml)));
        } catch (SAXException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            throw new InvalidInputException(what + ": malformed XML: " + msg.replace('\n', ' '));
        } catch (IOException | ParserConfigurationException e) {
            throw new InvalidInputException(what + ": cannot parse XML: " + e.getMessage(), e);
        }
    }

    private static DocumentBuilderFactory factory() throws ParserConfigurationException {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setFeature("http://xml.org/sax/features/external-general-entities", false);
        f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        f.setXIncludeAware(false);
        f.setExpandEntityReferences(false);
        f.setNamespaceAware(false);
        return f;
    }
}
