package org.vmsnap.manager.xml;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import org.vmsnap.manager.InvalidInputException;

/**
 * Coverage-guided fuzzing of the two XML documents vmsnap takes from users and other tools:
 * domain XML ({@code define}) and snapshot XML ({@code snapshot-create --xmlfile}, libvirt's
 * files on import). The fuzzer's bytes are the document (UTF-8). Properties:
 * <ul>
 *   <li>a bad document is refused with {@link InvalidInputException}, never another
 *       exception, an Error, a hang or running out of memory; a {@code <!DOCTYPE>} or an
 *       entity never gets past the parser (checked on every input: nothing that holds one
 *       is accepted);</li>
 *   <li>what vmsnap writes back for an accepted document reads again as the same thing
 *       (write, read, write gives the same text).</li>
 * </ul>
 *
 * <p>Seeds ({@code src/test/resources/org/vmsnap/manager/xml/XmlFuzzTestInputs/<method>/}):
 * the libvirt 9.0 fixtures of {@code src/test/resources/libvirt}, and small documents with a
 * DTD, an entity and XInclude. Regression mode runs in every {@code mvn verify}; fuzzing
 * mode: {@code bench/fuzz.sh}.
 */
class XmlFuzzTest {

    @FuzzTest(maxDuration = "2m")
    void domainXml(byte[] bytes) throws InvalidInputException {
        String xml = new String(bytes, StandardCharsets.UTF_8);
        Domain domain;
        try {
            domain = Domain.parse(xml);
        } catch (InvalidInputException refused) {
            return;
        }
        requireNoDtd(xml);
        try {
            domain.hardware();
        } catch (InvalidInputException refused) {
            // hardware a live start could not translate: refused with one line
        }
        String written = domain.toXml();
        Domain again = Domain.parse(written); // what vmsnap writes it must read
        if (!again.toXml().equals(written)) {
            throw new AssertionError("domain XML changes when written again:\n" + written + "\n---\n" + again.toXml());
        }
    }

    @FuzzTest(maxDuration = "2m")
    void snapshotXml(byte[] bytes) throws InvalidInputException {
        String xml = new String(bytes, StandardCharsets.UTF_8);
        SnapshotDef snapshot;
        try {
            snapshot = SnapshotXml.parse(xml);
        } catch (InvalidInputException refused) {
            return;
        }
        requireNoDtd(xml);
        String written = SnapshotXml.format(snapshot);
        String again = SnapshotXml.format(SnapshotXml.parse(written));
        if (!again.equals(written)) {
            throw new AssertionError("snapshot XML changes when written again:\n" + written + "\n---\n" + again);
        }
    }

    /** An accepted document has no DTD (and so no entity declaration): the parser must refuse them. */
    private static void requireNoDtd(String xml) {
        if (xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY")) {
            // Inside a comment or CDATA section it is text, not a DTD; anywhere else it must be refused.
            String outside = xml.replaceAll("(?s)<!--.*?-->", "").replaceAll("(?s)<!\\[CDATA\\[.*?]]>", "");
            if (outside.contains("<!DOCTYPE") || outside.contains("<!ENTITY")) {
                throw new AssertionError("a document with a DTD was accepted:\n" + xml);
            }
        }
    }
}
