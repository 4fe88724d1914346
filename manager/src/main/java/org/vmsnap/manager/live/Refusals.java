package org.vmsnap.manager.live;

import java.util.ArrayList;
import java.util.List;

/** The refusal lines of one translation, each prefixed with {@code domain NAME: }. */
final class Refusals {
    private final String prefix;
    private final List<String> lines = new ArrayList<>();

    Refusals(String domain) {
        this.prefix = "domain " + domain + ": ";
    }

    /** Adds {@code what} (an element and why) as one line; returns null so a mapper can {@code return refuse(...)}. */
    <T> T add(String what) {
        lines.add(prefix + what);
        return null;
    }

    /** {@code <element> is not supported by vmsnap}. */
    <T> T unsupported(String element) {
        return add(element + " is not supported by vmsnap");
    }

    void addAll(List<String> complete) {
        lines.addAll(complete);
    }

    boolean any() {
        return !lines.isEmpty();
    }

    void throwIfAny() throws UnsupportedDomainException {
        if (!lines.isEmpty()) {
            throw new UnsupportedDomainException(lines);
        }
    }
}
