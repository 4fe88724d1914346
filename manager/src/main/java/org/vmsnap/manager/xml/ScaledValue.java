package org.vmsnap.manager.xml;

import java.util.Locale;

import org.vmsnap.manager.InvalidInputException;

/**
 * libvirt's scaled integers ({@code <memory unit='GiB'>2</memory>}), read the way its
 * virScaleInteger reads them: {@code b}/{@code byte}/{@code bytes} are bytes; a single letter
 * or letter + {@code iB} is a power of 1024; letter + {@code B} is a power of 1000; the letters
 * are k, m, g, t, p, e, all case-insensitive. No unit means the element's default (KiB for memory).
 */
final class ScaledValue {
    private static final String LETTERS = "kmgtpe";

    private ScaledValue() {
    }

    /**
     * The value in bytes.
     *
     * @param what  the element, for the error ("domain web01: <memory>")
     * @param text  the number, digits only (libvirt accepts no sign and no spaces)
     * @param unit  the unit attribute, null or empty for {@code defaultScale}
     */
    static long bytes(String what, String text, String unit, long defaultScale) throws InvalidInputException {
        if (text == null || text.isEmpty() || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidInputException(what + ": invalid value '" + text + "' (expected an unsigned integer)");
        }
        long scale = scale(what, unit, defaultScale);
        try {
            return Math.multiplyExact(Long.parseLong(text), scale);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new InvalidInputException(what + ": value " + text + " " + (unit == null ? "" : unit)
                    + " is too large");
        }
    }

    /** The value in KiB, rounded up as libvirt rounds memory sizes. */
    static long kib(String what, String text, String unit) throws InvalidInputException {
        long b = bytes(what, text, unit, 1024);
        return b / 1024 + (b % 1024 == 0 ? 0 : 1);
    }

    private static long scale(String what, String unit, long defaultScale) throws InvalidInputException {
        if (unit == null || unit.isEmpty()) {
            return defaultScale;
        }
        String u = unit.toLowerCase(Locale.ROOT);
        if (u.equals("b") || u.equals("byte") || u.equals("bytes")) {
            return 1;
        }
        int power = LETTERS.indexOf(u.charAt(0)) + 1;
        long base;
        if (u.length() == 1 || u.substring(1).equals("ib")) {
            base = 1024;
        } else if (u.length() == 2 && u.charAt(1) == 'b') {
            base = 1000;
        } else {
            power = 0;
            base = 0;
        }
        if (power == 0) {
            throw new InvalidInputException(what + ": unknown unit '" + unit + "'");
        }
        long scale = 1;
        for (int i = 0; i < power; i++) {
            scale = Math.multiplyExact(scale, base);
        }
        return scale;
    }
}
