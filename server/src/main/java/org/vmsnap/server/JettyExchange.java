package org.vmsnap.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** An exchange of Jetty (the UNIX-socket listener), handled blocking on its virtual thread. */
final class JettyExchange implements Exchange {
    private final Request request;
    private final Response response;
    private final Callback callback;
    private OutputStream out;

    JettyExchange(Request request, Response response, Callback callback) {
        this.request = request;
        this.response = response;
        this.callback = callback;
    }

    @Override
    public String method() {
        return request.getMethod();
    }

    @Override
    public String rawPath() {
        return request.getHttpURI().getPath();
    }

    @Override
    public String rawQuery() {
        return request.getHttpURI().getQuery();
    }

    @Override
    public String header(String name) {
        return request.getHeaders().get(name);
    }

    @Override
    public void setHeader(String name, String value) {
        response.getHeaders().put(name, value);
    }

    @Override
    public InputStream requestBody() {
        return Content.Source.asInputStream(request);
    }

    @Override
    public OutputStream send(int status, long length) {
        response.setStatus(status);
        if (length >= 0) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
        }
        out = Content.Sink.asOutputStream(response);
        return out;
    }

    /** Completes the response: the last write, then Jetty's callback (failed if the write failed). */
    @Override
    public void close() {
        try {
            if (out == null) {
                send(500, 0);
            }
            out.close();
            callback.succeeded();
        } catch (IOException | RuntimeException e) {
            callback.failed(e);
        }
    }
}
