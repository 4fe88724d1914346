package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A 16550 serial port (COM{@code port+1}; chardev {@code charserial<port>}, device
 * {@code serial<port>}: stable ids, so a pty's path can be asked of QMP's query-chardev).
 */
public record Serial(int port, Sink sink) {

    /** Where the port's output goes. */
    public sealed interface Sink {
    }

    /** A pseudo-terminal QEMU opens; its path is in QMP's {@code query-chardev}. */
    public record Pty() implements Sink {
    }

    /** A file; {@code append} keeps what an earlier start wrote. */
    public record File(Path path, boolean append) implements Sink {
        public File {
            Objects.requireNonNull(path, "path");
        }
    }

    /** The run folder's serial log ({@code RunFolder.serialLog()}), appended. */
    public record RunLog() implements Sink {
    }

    public Serial {
        if (port < 0 || port > 3) {
            throw new IllegalArgumentException("serial port must be 0..3: " + port);
        }
        Objects.requireNonNull(sink, "sink");
    }

    public String chardevId() {
        return "charserial" + port;
    }

    public String deviceId() {
        return "serial" + port;
    }
}
