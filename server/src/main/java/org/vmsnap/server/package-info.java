/**
 * {@code vmsnap serve}: a local HTTP server (the JDK's {@code jdk.httpserver} on virtual threads)
 * with a token-protected JSON API. It has no logic of its own: every answer comes from the
 * manager services the CLI's virsh commands call.
 */
package org.vmsnap.server;
