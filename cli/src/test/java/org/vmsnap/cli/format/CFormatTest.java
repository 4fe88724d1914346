package org.vmsnap.cli.format;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** The C conversions, judged by glibc's own printf (coreutils' printf binary). */
class CFormatTest {

    private static List<String> printf(String format, List<Double> values) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/printf", format + "\\n"));
        // %a is exact, so printf gets the very same double that Java formats.
        values.forEach(v -> cmd.add(String.format(Locale.ROOT, "%a", v).replace("0x1.0p", "0x1p")));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertThat(p.waitFor()).isZero();
        return out.lines().toList();
    }

    private static List<Double> samples() {
        List<Double> v = new ArrayList<>(List.of(0.125, 0.375, 2.5, 4.6875, 999.5, 1000.0, 0.999, 1023 / 1024.0,
                1.5, 452.0, 99.995, 0.0049, 12.345, 1e-5, 123456.0));
        Random r = new Random(42);
        for (int i = 0; i < 300; i++) {
            v.add(r.nextInt(1_000_000) / 1000.0);
            v.add(r.nextDouble() * 1000);
        }
        return v;
    }

    @Test
    void formatGMatchesPrintf() throws Exception {
        List<Double> values = samples();
        List<String> expected = printf("%.3g", values);
        for (int i = 0; i < values.size(); i++) {
            assertThat(CFormat.formatG(values.get(i), 3)).as("%%.3g of %s", values.get(i)).isEqualTo(expected.get(i));
        }
    }

    @Test
    void fixedMatchesPrintf() throws Exception {
        List<Double> values = samples();
        List<String> expected = printf("%.2f", values);
        for (int i = 0; i < values.size(); i++) {
            assertThat(CFormat.fixed(values.get(i), 2)).as("%%.2f of %s", values.get(i)).isEqualTo(expected.get(i));
        }
    }

    @Test
    void sizeToStrPicksTheUnitThatKeepsTheNumberBelowAThousand() {
        assertThat(CFormat.sizeToStr(0)).isEqualTo("0 B");
        assertThat(CFormat.sizeToStr(512)).isEqualTo("512 B");
        assertThat(CFormat.sizeToStr(1023)).isEqualTo("0.999 KiB");
        assertThat(CFormat.sizeToStr(4096)).isEqualTo("4 KiB");
        assertThat(CFormat.sizeToStr(462848)).isEqualTo("452 KiB");
        assertThat(CFormat.sizeToStr(4 << 20)).isEqualTo("4 MiB");
        assertThat(CFormat.sizeToStr(1610612736L)).isEqualTo("1.5 GiB");
        assertThat(CFormat.sizeToStr(1L << 40)).isEqualTo("1 TiB");
        assertThat(CFormat.sizeToStr(Long.MAX_VALUE)).isEqualTo("8 EiB");
    }

    @Test
    void paddingCountsUtf8BytesLikePrintf() {
        assertThat(CFormat.padRight("é", 4)).isEqualTo("é  ");
        assertThat(CFormat.padLeft("ab", 4)).isEqualTo("  ab");
        assertThat(CFormat.padRight("toolong", 3)).isEqualTo("toolong");
        assertThat(CFormat.hexAlt(0)).isEqualTo("0");
        assertThat(CFormat.hexAlt(0x30000)).isEqualTo("0x30000");
    }
}
