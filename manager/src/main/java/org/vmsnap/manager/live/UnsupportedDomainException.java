package org.vmsnap.manager.live;

import java.util.List;

import org.vmsnap.manager.InvalidInputException;

/**
 * The domain XML asks for something vmsnap cannot start. Each of {@link #lines()} is one
 * complete refusal naming the domain, the element and (where known) what to change; the
 * message is those lines, one per line.
 */
public final class UnsupportedDomainException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final List<String> lines;

    public UnsupportedDomainException(List<String> lines) {
        super(String.join("\n", lines));
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("no refusal");
        }
        this.lines = List.copyOf(lines);
    }

    public List<String> lines() {
        return lines;
    }
}
