package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * {@link Json} reads and writes the trees Jackson's ObjectMapper (the oracle here, as it was
 * Json's implementation) reads and writes: on QEMU's recorded transcripts and on seeded random
 * trees.
 */
class JsonTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void qemuTranscriptsParseAsObjectMapperParsesThem() throws IOException {
        Path seeds = Path.of("src/test/resources/org/vmsnap/qmp/QmpFuzzTestInputs");
        int lines = 0;
        try (Stream<Path> files = Files.walk(seeds)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                for (String line : new String(Files.readAllBytes(f), StandardCharsets.UTF_8).split("\n")) {
                    JsonNode expected;
                    try {
                        expected = MAPPER.readTree(line);
                    } catch (IOException e) {
                        continue; // a seed's deliberate garbage: checked below
                    }
                    if (expected instanceof ObjectNode) {
                        ObjectNode got = Json.parseObject(line, "peer");
                        assertThat(got).as(f + ": " + line).isEqualTo(expected);
                        assertThat(Json.write(got)).isEqualTo(MAPPER.writeValueAsString(expected));
                        lines++;
                    }
                }
            }
        }
        assertThat(lines).as("QMP lines in the seeds").isGreaterThan(20);
    }

    @Test
    void randomTreesRoundTripAsObjectMapperDoes() throws IOException {
        long seed = System.nanoTime();
        System.out.println("JsonTest seed " + seed);
        Random r = new Random(seed);
        for (int i = 0; i < 2000; i++) {
            ObjectNode tree = randomObject(r, 0);
            String text = MAPPER.writeValueAsString(tree);
            assertThat(Json.write(tree)).as("seed " + seed).isEqualTo(text);
            ObjectNode back = Json.parseObject(text, "peer");
            assertThat(back).as("seed " + seed + ": " + text).isEqualTo(MAPPER.readTree(text));
        }
    }

    @Test
    void oddInputIsReadAsObjectMapperReadsIt() throws IOException {
        for (String text : List.of("{\"a\":1,\"a\":2}", "{\"n\":12345678901234567890123}", "{\"x\":1e400}",
                " {\"a\":[]} trailing", "{\"s\":\"\\u00e9\\n\\\"\"}", "{\"d\":-0.0,\"i\":-2147483649}")) {
            assertThat(Json.parseObject(text, "peer")).as(text).isEqualTo(MAPPER.readTree(text));
        }
    }

    @Test
    void anythingButAnObjectIsAProtocolErrorNamingThePeer() {
        for (String text : List.of("", "   ", "[1]", "3", "null", "\"x\"")) {
            assertThatThrownBy(() -> Json.parseObject(text, "QEMU at /x.sock")).as(text)
                    .isInstanceOf(QmpProtocolException.class).hasMessageContaining("QEMU at /x.sock")
                    .hasMessageContaining("not an object");
        }
        for (String text : List.of("{", "{\"a\":}", "{'a':1}", "{\"a\":tru}", "x")) {
            assertThatThrownBy(() -> Json.parseObject(text, "the guest agent")).as(text)
                    .isInstanceOf(QmpProtocolException.class).hasMessageContaining("the guest agent sent a line that is not JSON");
        }
    }

    private static ObjectNode randomObject(Random r, int depth) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        int n = r.nextInt(depth > 3 ? 2 : 6);
        for (int i = 0; i < n; i++) {
            o.set(randomString(r), randomValue(r, depth + 1));
        }
        return o;
    }

    private static JsonNode randomValue(Random r, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(depth > 4 ? 7 : 9)) {
            case 0 -> f.textNode(randomString(r));
            case 1 -> f.numberNode(r.nextInt());
            case 2 -> f.numberNode(r.nextLong());
            case 3 -> f.numberNode(new BigInteger(70 + r.nextInt(60), r).add(BigInteger.valueOf(Long.MAX_VALUE)));
            case 4 -> f.numberNode(r.nextBoolean() ? r.nextDouble() * 1e6 : Double.longBitsToDouble(r.nextLong() >>> 2));
            case 5 -> f.booleanNode(r.nextBoolean());
            case 6 -> f.nullNode();
            case 7 -> randomObject(r, depth);
            default -> {
                ArrayNode a = f.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) {
                    a.add(randomValue(r, depth + 1));
                }
                yield a;
            }
        };
    }

    private static String randomString(Random r) {
        StringBuilder b = new StringBuilder();
        for (int i = r.nextInt(8); i > 0; i--) {
            int kind = r.nextInt(4);
            b.appendCodePoint(kind == 0 ? r.nextInt(0x20) : kind == 1 ? 0x20 + r.nextInt(0x5f)
                    : kind == 2 ? 0xa0 + r.nextInt(0x700) : 0x1f600 + r.nextInt(0x40));
        }
        return b.toString();
    }
}
