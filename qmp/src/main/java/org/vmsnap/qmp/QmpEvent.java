package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
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
        JsonNode ts = message.path("timestamp");
        Instant when = ts.isObject()
                ? Instant.ofEpochSecond(ts.path("seconds").asLong(), Math.max(0, ts.path("microseconds").asLong()) * 1000)
                : Instant.EPOCH;
        return new QmpEvent(message.path("event").asText(), message.get("data"), when);
    }
}
