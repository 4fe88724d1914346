/**
 * {@code vmsnap serve}: a local HTTP server (the JDK's {@code jdk.httpserver} on virtual threads)
 * with a token-protected JSON API and one web page. It has no logic of its own: every answer comes
 * from the manager services the CLI's virsh commands call, and every action (create, revert,
 * delete) is a {@link org.vmsnap.server.Job} making the call the CLI command makes.
 */
package org.vmsnap.server;
