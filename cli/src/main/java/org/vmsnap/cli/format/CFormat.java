package org.vmsnap.cli.format;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;

/**
 * The few C printf conversions qemu-img's output depends on, with glibc's rounding: the
 * exact binary value of a double, rounded half to even. (Java's %f rounds half up, so
 * 0.125 would print as 0.13 where qemu-img prints 0.12.)
 */
public final class CFormat {

    private static final String[] SIZE_SUFFIXES = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

    private CFormat() {
    }

    /**
     * QEMU's size_to_str: "0 B", "512 B", "4 MiB", "1.5 GiB", "0.999 KiB". The unit is
     * chosen so that the number stays below 1000, and printed with %0.3g.
     */
    public static String sizeToStr(long bytes) {
        double scaled = bytes / (1000.0 / 1024.0);
        int exponent = scaled == 0 ? 0 : Math.getExponent(scaled) + 1;   // as frexp() gives it
        int unit = (exponent - 1) / 10;                                   // C division: toward zero
        double value = (double) bytes / (double) (1L << (unit * 10));
        return formatG(value, 3) + " " + SIZE_SUFFIXES[unit] + "B";
    }

    /** C's %.{precision}g for a non-negative finite value. */
    public static String formatG(double value, int precision) {
        if (value == 0) {
            return "0";
        }
        BigDecimal rounded = new BigDecimal(value).round(new MathContext(precision, RoundingMode.HALF_EVEN));
        int exponent = rounded.precision() - rounded.scale() - 1;
        if (exponent < -4 || exponent >= precision) {
            String mantissa = stripZeros(rounded.movePointLeft(exponent).toPlainString());
            int abs = Math.abs(exponent);
            return mantissa + "e" + (exponent < 0 ? "-" : "+") + (abs < 10 ? "0" : "") + abs;
        }
        return stripZeros(rounded.setScale(Math.max(precision - 1 - exponent, 0), RoundingMode.HALF_EVEN)
                .toPlainString());
    }

    private static String stripZeros(String plain) {
        if (plain.indexOf('.') < 0) {
            return plain;
        }
        int end = plain.length();
        while (plain.charAt(end - 1) == '0') {
            end--;
        }
        if (plain.charAt(end - 1) == '.') {
            end--;
        }
        return plain.substring(0, end);
    }

    /** C's %.{decimals}f. */
    public static String fixed(double value, int decimals) {
        return new BigDecimal(value).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
    }

    /** C's %#x: "0" for zero, else "0x" and lower-case hex digits. */
    public static String hexAlt(long value) {
        return value == 0 ? "0" : "0x" + Long.toHexString(value);
    }

    /** C's %-{width}s: pads to width bytes of UTF-8, as printf counts. */
    public static String padRight(String s, int width) {
        int pad = width - utf8Length(s);
        return pad > 0 ? s + " ".repeat(pad) : s;
    }

    /** C's %{width}s. */
    public static String padLeft(String s, int width) {
        int pad = width - utf8Length(s);
        return pad > 0 ? " ".repeat(pad) + s : s;
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
