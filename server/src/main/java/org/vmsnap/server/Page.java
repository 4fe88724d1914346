package org.vmsnap.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The web page: one HTML file with its style and script inline ({@code page.html} beside this
 * class), nothing fetched from elsewhere. Each answer gets a fresh nonce, and the Content Security
 * Policy lets only the elements carrying it run or style, and the page talk only to this server.
 */
final class Page {
    private static final String TEMPLATE = load();
    private static final SecureRandom RANDOM = new SecureRandom();

    private Page() {
    }

    private static String load() {
        try (InputStream in = Page.class.getResourceAsStream("page.html")) {
            if (in == null) {
                throw new IllegalStateException("page.html is missing from the server's jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String nonce() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    static byte[] html(String nonce) {
        return TEMPLATE.replace("{{NONCE}}", nonce).getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, String> headers(String nonce) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Security-Policy", "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-"
                + nonce + "'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none';"
                + " frame-ancestors 'none'");
        h.put("X-Frame-Options", "DENY");
        return h;
    }
}
