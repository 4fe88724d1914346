package org.vmsnap.cli.format;

/**
 * Sizes as qemu-img reads them (qemu_strtosz): a decimal number with an optional fraction
 * and an optional binary suffix b/B (bytes), k/K, M, G, T, P, E (case-insensitive); a hex
 * number with 0x and no suffix. A fraction needs a suffix ("1.5G", not "0.5").
 */
public final class SizeArg {

    /** qemu-img's message, on one line. */
    public static final String INVALID_SIZE = "Invalid image size specified. You may use k, M, G, T, P or E "
            + "suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.";

    private SizeArg() {
    }

    /**
     * Parses a size in bytes.
     *
     * @throws IllegalArgumentException with qemu-img's message when the text is no size or
     *                                  the size does not fit in a signed 64-bit number
     */
    public static long parse(String text) {
        String s = text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException(INVALID_SIZE);
        }
        if (s.startsWith("0x") || s.startsWith("0X")) {
            try {
                return Long.parseLong(s.substring(2), 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(INVALID_SIZE, e);
            }
        }
        int unitShift = -1;
        char last = s.charAt(s.length() - 1);
        switch (Character.toLowerCase(last)) {
            case 'b' -> unitShift = 0;
            case 'k' -> unitShift = 10;
            case 'm' -> unitShift = 20;
            case 'g' -> unitShift = 30;
            case 't' -> unitShift = 40;
            case 'p' -> unitShift = 50;
            case 'e' -> unitShift = 60;
            default -> { }
        }
        String number = unitShift >= 0 ? s.substring(0, s.length() - 1) : s;
        if (!number.matches("[0-9]+(\\.[0-9]*)?") || (unitShift < 0 && number.contains("."))) {
            throw new IllegalArgumentException(INVALID_SIZE);
        }
        java.math.BigDecimal value = new java.math.BigDecimal(number)
                .multiply(java.math.BigDecimal.valueOf(2).pow(Math.max(unitShift, 0)))
                .setScale(0, java.math.RoundingMode.DOWN);
        if (value.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("Invalid image size specified. Must be between 0 and "
                    + Long.MAX_VALUE + ".");
        }
        return value.longValueExact();
    }
}
