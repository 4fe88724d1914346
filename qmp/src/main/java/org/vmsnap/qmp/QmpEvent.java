package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Objects;

/**
 * An asynchronous QMP event, e.g. {@code JOB_STATUS_CHANGE} or {@code MIGRATION}.
 *
 * @param name      the event name
 * @param data      its {@code data} member, an empty object when QEMU sent none
 * @param timestamp QEMU's timestamp, or {@link Instant#EPOCH} when absent
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {

    public QmpEvent {
        Objects.requireNonNull(name, "name");
        data = data == null || data.isMissingNode() || data.isNull() ? JsonNodeFactory.instance.objectNode() : data;
        Objects.requireNonNull(timestamp, "timestamp");
    }

    /** The text member {@code field} of {@link #data}, or "" when there is none. */
    public String text(String field) {
        return data.path(field).asText("");
    }

    static QmpEvent of(JsonNode message) {
        return new QmpEvent(message.path("event").asText(), message.get("data"), timestamp(message.path("timestamp")));
    }

    /**
     * QEMU's {@code {"seconds": S, "microseconds": U}}; {@link Instant#EPOCH} when absent or
     * not a time (seconds beyond Instant's range threw, which ended the
     * whole connection: an event's time is not worth that).
     */
    private static Instant timestamp(JsonNode ts) {
        JsonNode seconds = ts.path("seconds");
        JsonNode micros = ts.path("microseconds");
        if (!seconds.canConvertToLong() || !micros.canConvertToLong()) {
            return Instant.EPOCH;
        }
        long us = micros.asLong();
        try {
            return Instant.ofEpochSecond(seconds.asLong(), us >= 0 && us < 1_000_000 ? us * 1000 : 0);
        } catch (DateTimeException notATime) {
            return Instant.EPOCH;
        }
    }
}
