package org.vmsnap.qmp.hw;

import java.util.regex.Pattern;

/** QEMU's rule for block node names and device ids: a letter, then letters, digits, {@code - _ .}; at most 31. */
public final class NodeNames {

    public static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");

    private NodeNames() {
    }

    public static String require(String name, String what) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " must match " + NAME + ": " + name);
        }
        return name;
    }
}
