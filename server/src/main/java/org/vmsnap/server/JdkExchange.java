package org.vmsnap.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

import com.sun.net.httpserver.HttpExchange;

/** An exchange of the JDK's {@code HttpServer} (the TCP listener). */
record JdkExchange(HttpExchange ex) implements Exchange {
    @Override
    public String method() {
        return ex.getRequestMethod();
    }

    @Override
    public String rawPath() {
        return ex.getRequestURI().getRawPath();
    }

    @Override
    public String rawQuery() {
        return ex.getRequestURI().getRawQuery();
    }

    @Override
    public String header(String name) {
        return ex.getRequestHeaders().getFirst(name);
    }

    @Override
    public void setHeader(String name, String value) {
        ex.getResponseHeaders().set(name, value);
    }

    @Override
    public InputStream requestBody() {
        return ex.getRequestBody();
    }

    @Override
    public OutputStream send(int status, long length) throws IOException {
        // HttpExchange's words: 0 is "chunked, until closed"; a fixed length of 0 would be -1.
        ex.sendResponseHeaders(status, length < 0 ? 0 : length == 0 ? -1 : length);
        return ex.getResponseBody();
    }

    @Override
    public void close() {
        ex.close();
    }
}
