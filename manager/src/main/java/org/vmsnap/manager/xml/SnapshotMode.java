package org.vmsnap.manager.xml;

import java.util.Locale;

import org.vmsnap.manager.InvalidInputException;

/** libvirt's snapshot location of a disk or of the memory: {@code snapshot='...'}. */
public enum SnapshotMode {
    NO, INTERNAL, EXTERNAL, MANUAL;

    /** The attribute value libvirt writes. */
    public String xmlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static SnapshotMode parse(String value) throws InvalidInputException {
        for (SnapshotMode m : values()) {
            if (m.xmlName().equals(value)) {
                return m;
            }
        }
        throw new InvalidInputException("unknown snapshot location '" + value
                + "' (expected no, internal, external or manual)");
    }
}
