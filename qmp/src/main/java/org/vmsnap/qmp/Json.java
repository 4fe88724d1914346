package org.vmsnap.qmp;

import java.io.IOException;
import java.io.StringWriter;
import java.util.Map;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * JSON trees for QMP and the guest agent, read and written with Jackson's streaming parser and
 * generator and its tree nodes, without an ObjectMapper: building one (its date formats,
 * serializer and deserializer factories) cost every live command ~0.1-0.2 s of CPU at start-up,
 * AOT cache or not, for trees a few lines of code read and write. The trees are the ones
 * {@code ObjectMapper.readTree} makes with its defaults (ints, longs and big integers by size,
 * doubles, a repeated key keeps its last value, nothing checked after the first value), and
 * the text is what {@code writeValueAsString} writes (compact).
 */
final class Json {

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Json() {
    }

    static ObjectNode object() {
        return NODES.objectNode();
    }

    /** Parses one message; anything but a JSON object is a protocol error naming the peer. */
    static ObjectNode parseObject(String text, String peer) throws QmpProtocolException {
        JsonNode node;
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            node = first == null ? null : read(p, first);
        } catch (JsonProcessingException e) {
            throw new QmpProtocolException(peer + " sent a line that is not JSON: " + abbreviate(text), e);
        } catch (IOException e) {
            throw new IllegalStateException("reading a string failed", e); // no I/O on a String
        }
        if (!(node instanceof ObjectNode object)) {
            throw new QmpProtocolException(peer + " sent JSON that is not an object: " + abbreviate(text));
        }
        return object;
    }

    /** The value starting at {@code token}; the parser's nesting limit bounds the recursion. */
    private static JsonNode read(JsonParser p, JsonToken token) throws IOException {
        switch (token) {
            case START_OBJECT -> {
                ObjectNode o = NODES.objectNode();
                for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                    String key = p.currentName();
                    o.set(key, read(p, p.nextToken()));
                }
                return o;
            }
            case START_ARRAY -> {
                ArrayNode a = NODES.arrayNode();
                for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                    a.add(read(p, t));
                }
                return a;
            }
            case VALUE_STRING -> {
                return NODES.textNode(p.getText());
            }
            case VALUE_NUMBER_INT -> {
                return switch (p.getNumberType()) {
                    case INT -> NODES.numberNode(p.getIntValue());
                    case LONG -> NODES.numberNode(p.getLongValue());
                    default -> NODES.numberNode(p.getBigIntegerValue());
                };
            }
            case VALUE_NUMBER_FLOAT -> {
                return NODES.numberNode(p.getDoubleValue());
            }
            case VALUE_TRUE -> {
                return NODES.booleanNode(true);
            }
            case VALUE_FALSE -> {
                return NODES.booleanNode(false);
            }
            case VALUE_NULL -> {
                return NODES.nullNode();
            }
            default -> throw new IllegalStateException("unexpected JSON token " + token);
        }
    }

    static String write(JsonNode node) {
        StringWriter text = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(text)) {
            write(g, node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
        return text.toString();
    }

    private static void write(JsonGenerator g, JsonNode node) throws IOException {
        switch (node.getNodeType()) {
            case OBJECT -> {
                g.writeStartObject();
                for (Map.Entry<String, JsonNode> field : node.properties()) {
                    g.writeFieldName(field.getKey());
                    write(g, field.getValue());
                }
                g.writeEndObject();
            }
            case ARRAY -> {
                g.writeStartArray();
                for (JsonNode element : node) {
                    write(g, element);
                }
                g.writeEndArray();
            }
            case STRING -> g.writeString(node.textValue());
            case NUMBER -> {
                if (node.isBigInteger()) {
                    g.writeNumber(node.bigIntegerValue());
                } else if (node.isIntegralNumber()) {
                    g.writeNumber(node.longValue());
                } else if (node.isBigDecimal()) {
                    g.writeNumber(node.decimalValue());
                } else if (node.isFloat()) {
                    g.writeNumber(node.floatValue());
                } else {
                    g.writeNumber(node.doubleValue());
                }
            }
            case BOOLEAN -> g.writeBoolean(node.booleanValue());
            case NULL -> g.writeNull();
            default -> throw new IllegalStateException("cannot serialise a " + node.getNodeType() + " JSON node");
        }
    }

    static String abbreviate(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }
}
