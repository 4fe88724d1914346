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
 * <p>A line longer than the limit is never held in memory: its first bytes are dropped, the
 * rest is skipped up to the next newline or 0xFF, and one {@link Overlong} frame stands for
 * it. A run of 0xFF bytes is one delimiter frame: the reader then queues nothing for a flood
 * of them. So memory stays bounded whatever the peer sends (a guest agent is controlled by
 * whoever runs the guest), and does not grow with how fast the peer floods.
 *
 * <p>Used by exactly one reader thread per connection; not thread-safe.
 */
final class Frames {

    /** A QMP line longer than this is not a message we could use: 16 MiB, far above any reply. */
    static final int MAX_LINE_BYTES = 16 << 20;

    static final byte DELIMITER = (byte) 0xFF;

    /** One frame: a line of text, the delimiter, or a line too long to keep. */
    sealed interface Frame permits Line, Delimiter, Overlong {
    }

    record Line(String text) implements Frame {
    }

    record Delimiter() implements Frame {
    }

    /** A line of more than the limit (at least {@code limit + 1} bytes), skipped. */
    record Overlong(int limit) implements Frame {
    }

    private static final Delimiter THE_DELIMITER = new Delimiter();

    private final ReadableByteChannel channel;
    private final int maxLineBytes;
    private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024).flip();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    /** Inside an overlong line: bytes are dropped up to its end. */
    private boolean skipping;
    /** The last frame was the delimiter and no byte came since: a further 0xFF adds nothing. */
    private boolean afterDelimiter;

    /** Run before each read from the channel, which may block: every byte read so far is framed then. */
    private final Runnable beforeRead;

    Frames(ReadableByteChannel channel, int maxLineBytes) {
        this(channel, maxLineBytes, () -> { });
    }

    Frames(ReadableByteChannel channel, int maxLineBytes, Runnable beforeRead) {
        if (maxLineBytes < 1) {
            throw new IllegalArgumentException("maxLineBytes must be positive: " + maxLineBytes);
        }
        this.channel = channel;
        this.maxLineBytes = maxLineBytes;
        this.beforeRead = beforeRead;
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
                    if (afterDelimiter) {
                        continue;
                    }
                    line.reset();
                    skipping = false;
                    afterDelimiter = true;
                    return THE_DELIMITER;
                }
                afterDelimiter = false;
                if (b == '\n') {
                    if (skipping) {
                        skipping = false;
                        continue;
                    }
                    String text = line.toString(StandardCharsets.UTF_8).strip();
                    line.reset();
                    if (!text.isEmpty()) {
                        return new Line(text);
                    }
                    continue;
                }
                if (skipping) {
                    continue;
                }
                if (line.size() >= maxLineBytes) {
                    line.reset();
                    skipping = true;
                    return new Overlong(maxLineBytes);
                }
                line.write(b);
            }
            beforeRead.run();
            buffer.clear();
            int n = channel.read(buffer);
            buffer.flip();
            if (n < 0) {
                return null;
            }
        }
    }
}
