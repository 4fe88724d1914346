package org.vmsnap.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * One request and its answer, as {@link VmsnapServer} needs them, whichever server carried it:
 * the JDK's {@code HttpServer} on TCP, Jetty on a UNIX socket. Both parse HTTP; this only names
 * the few calls the handler makes, so one handler serves both.
 */
interface Exchange extends AutoCloseable {
    String method();

    /** The path as sent, still percent-encoded. */
    String rawPath();

    /** The query as sent, or null. */
    String rawQuery();

    /** The first value of a request header, or null. */
    String header(String name);

    void setHeader(String name, String value);

    InputStream requestBody() throws IOException;

    /**
     * Sends the status and headers; the body that follows has {@code length} bytes, or, with
     * {@code length} -1, is streamed until the returned stream is closed.
     */
    OutputStream send(int status, long length) throws IOException;

    /** Ends the exchange (the body stream is closed if it is open). */
    @Override
    void close();
}
