package org.vmsnap.manager.xml;

import java.nio.charset.StandardCharsets;

import org.vmsnap.manager.InvalidInputException;

/**
 * Domain and snapshot names become file names in the state folder and parts of overlay file
 * names, so they are checked before anything is named after them.
 */
public final class Names {
    /** Bytes of a file name on Linux file systems; longer names could not become files. */
    public static final int MAX_NAME_BYTES = 255;

    private Names() {
    }

    public static void checkDomainName(String name) throws InvalidInputException {
        check("domain", name);
    }

    public static void checkSnapshotName(String name) throws InvalidInputException {
        check("snapshot", name);
    }

    private static void check(String kind, String name) throws InvalidInputException {
        if (name == null || name.isEmpty()) {
            throw new InvalidInputException(kind + " name is empty");
        }
        if (name.isBlank()) {
            throw new InvalidInputException(kind + " name '" + name + "' is only spaces");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new InvalidInputException(kind + " name is longer than " + MAX_NAME_BYTES + " bytes");
        }
        if (name.contains("/")) {
            throw new InvalidInputException(kind + " name '" + name + "' contains '/'");
        }
        if (name.equals(".") || name.equals("..") || name.startsWith(".")) {
            throw new InvalidInputException(kind + " name '" + name + "' starts with '.'");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new InvalidInputException(kind + " name contains control character 0x"
                        + Integer.toHexString(c));
            }
        }
    }
}
