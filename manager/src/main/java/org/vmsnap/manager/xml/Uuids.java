package org.vmsnap.manager.xml;

import org.vmsnap.manager.InvalidInputException;

/** libvirt's UUID syntax: 32 hex digits, dashes (or spaces) between pairs anywhere, blanks around. */
final class Uuids {
    private Uuids() {
    }

    static void check(String where, String uuid) throws InvalidInputException {
        int digits = 0;
        boolean pairOpen = false;
        for (int i = 0; i < uuid.length(); i++) {
            char c = uuid.charAt(i);
            if (Character.digit(c, 16) >= 0 && c < 0x80) {
                digits++;
                pairOpen = !pairOpen;
            } else if ((c == '-' || c == ' ') && !pairOpen) {
                continue;
            } else {
                throw new InvalidInputException(where + ": malformed uuid '" + uuid + "'");
            }
        }
        if (digits != 32) {
            throw new InvalidInputException(where + ": malformed uuid '" + uuid + "' (" + digits
                    + " hex digits, expected 32)");
        }
    }
}
