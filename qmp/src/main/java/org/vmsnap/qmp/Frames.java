package org.vmsnap.qmp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * Splits a QMP or guest-agent byte stream into frames: one JSON message per line (QEMU ends
 * each with CR LF), and the 0xFF byte that the guest agent sends before its answer to
 * {@code guest-sync-delimited}. 0xFF never occurs in UTF-8, so it cannot be part of a line.
 *
 * <p>Used by exactly one reader thread per connection; not thread-safe.
 */
final class Frames {

    /** A line longer than this is not a QMP message we could use: 16 MiB, far above any reply. */
    static final int MAX_LINE_BYTES = 16 << 20;

    static final byte DELIMITER = (byte) 0xFF;

    /** One frame: a line of text, or the delimiter. */
    sealed interface Frame permits Line, Delimiter {
    }

    record Line(String text) implements Frame {
    }

    record Delimiter() implements Frame {
    }

    private static final Delimiter THE_DELIMITER = new Delimiter();

    private final ReadableByteChannel channel;
    private final String peer;
    private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024).flip();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    Frames(ReadableByteChannel channel, String peer) {
        this.channel = channel;
        this.peer = peer;
    }

    /**
     * The next frame, or {@code null} at end of stream. Empty lines are skipped. A partial
     * line at end of stream is dropped: a message cut off by a disconnect is no message.
     */
    Frame next() throws IOException {
        while (true) {
            while (buffer.hasRemaining()) {
                byte b = buffer.get();
                if (b == DELIMITER) {
                    line.reset();
                    return THE_DELIMITER;
                }
                if (b == '\n') {
                    String text = line.toString(StandardCharsets.UTF_8).strip();
                    line.reset();
                    if (!text.isEmpty()) {
                        return new Line(text);
                    }
                    continue;
                }
                if (line.size() >= MAX_LINE_BYTES) {
                    throw new QmpProtocolException(peer + " sent a line longer than " + MAX_LINE_BYTES + " bytes");
                }
                line.write(b);
            }
            buffer.clear();
            int n = channel.read(buffer);
            buffer.flip();
            if (n < 0) {
                return null;
            }
        }
    }
}
