package org.vmsnap.manager.xml;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The libvirt fixtures under src/test/resources/libvirt (made by make-fixtures.sh with libvirt 9.0). */
final class Fixtures {
    static final String[] DOMAINS = {"domain-test.xml", "domain-web01.xml", "domain-kernel-vm.xml",
        "domain-metadata.xml"};
    static final String[] SNAPSHOTS = {"snapshot-running.xml", "snapshot-internal.xml", "snapshot-child.xml",
        "snapshot-external.xml", "snapshot-mixed.xml", "snapshot-metadata.xml"};

    private Fixtures() {
    }

    static String read(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/libvirt/" + name)) {
            if (in == null) {
                throw new IllegalStateException("fixture /libvirt/" + name + " is missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Domain domain(String name) throws Exception {
        return Domain.parse(read(name));
    }
}
