package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class FramesTest {

    private static List<Frames.Frame> frames(byte[] stream, int maxLine) throws IOException {
        Frames frames = new Frames(Channels.newChannel(new ByteArrayInputStream(stream)), maxLine);
        List<Frames.Frame> out = new ArrayList<>();
        for (Frames.Frame f = frames.next(); f != null; f = frames.next()) {
            out.add(f);
        }
        return out;
    }

    private static byte[] bytes(Object... parts) {
        var out = new java.io.ByteArrayOutputStream();
        for (Object p : parts) {
            byte[] b = p instanceof String s ? s.getBytes(java.nio.charset.StandardCharsets.UTF_8) : (byte[]) p;
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    private static byte[] ff(int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, Frames.DELIMITER);
        return b;
    }

    @Test
    void aRunOfDelimitersIsOneFrame_butABytebetweenMakesTwo() throws IOException {
        assertThat(frames(bytes(ff(200_000), "{\"return\": {}}\r\n", ff(3)), 1024)).containsExactly(
                new Frames.Delimiter(), new Frames.Line("{\"return\": {}}"), new Frames.Delimiter());
        assertThat(frames(bytes(ff(1), "x", ff(1), "{}\n"), 1024)).containsExactly(
                new Frames.Delimiter(), new Frames.Delimiter(), new Frames.Line("{}"));
    }

    @Test
    void aDelimiterEndsAnOverlongLine_andAPartialLineAtTheEndIsDropped() throws IOException {
        assertThat(frames(bytes("x".repeat(50), ff(2), "{}\n", "cut"), 10)).containsExactly(
                new Frames.Overlong(10), new Frames.Delimiter(), new Frames.Line("{}"));
        assertThat(frames(bytes("\n\r\n", "a".repeat(5), "\n"), 10)).containsExactly(new Frames.Line("aaaaa"));
    }
}
