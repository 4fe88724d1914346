package org.vmsnap.server;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The one-time costs of a just-started serve's first answers, paid by the warm-up thread before
 * the browser's first request needs them (bench/serve/pageload.sh: on a loaded 2-core machine they
 * were most of the page's and /api/domains' time): the {@code Date} header of jdk.httpserver (its
 * pattern's zone name loads the CLDR time-zone names, once per JVM), Jackson's serializers for
 * the maps and lists every answer is made of, and the page's nonce generator. Only warms caches
 * of the JDK and Jackson: nothing here is kept or shown.
 */
final class FirstAnswers {
    private FirstAnswers() {
    }

    static void warm(ObjectMapper json) {
        // The pattern and zone of sun.net.httpserver.ExchangeImpl's Date header.
        DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss zzz", Locale.US).withZone(ZoneId.of("GMT"))
                .format(Instant.now());
        Map<String, Object> node = new LinkedHashMap<>();
        node.put("name", "s0");
        node.put("parent", null);
        node.put("row", 0);
        node.put("current", true);
        node.put("creationTime", 0L);
        List<Map<String, Object>> nodes = new ArrayList<>();
        nodes.add(node);
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("nodes", nodes);
        try {
            json.writeValueAsBytes(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a fixed map did not serialize: " + e.getMessage(), e);
        }
        Page.nonce();
    }
}
