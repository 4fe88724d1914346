package org.vmsnap.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The one Jackson mapper of this package, and small helpers around it. */
final class Json {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses one message; anything but a JSON object is a protocol error naming the peer. */
    static ObjectNode parseObject(String text, String peer) throws QmpProtocolException {
        JsonNode node;
        try {
            node = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new QmpProtocolException(peer + " sent a line that is not JSON: " + abbreviate(text), e);
        }
        if (!(node instanceof ObjectNode object)) {
            throw new QmpProtocolException(peer + " sent JSON that is not an object: " + abbreviate(text));
        }
        return object;
    }

    static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
    }

    static String abbreviate(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }
}
