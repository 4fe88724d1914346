package org.vmsnap.qmp.hw;

/**
 * The guest agent's virtio-serial port {@code org.qemu.guest_agent.0}, whose chardev
 * ({@code charchannel0}) is a UNIX socket QEMU serves.
 *
 * @param socket the socket, or null for the run folder's agent socket
 * @param port   the port number on the virtio-serial bus, or null for QEMU's choice
 */
public record AgentChannel(java.nio.file.Path socket, Integer port) {

    public static final String PORT_NAME = "org.qemu.guest_agent.0";

    public static final AgentChannel IN_RUN_FOLDER = new AgentChannel(null, null);

    public AgentChannel {
        if (port != null && (port < 1 || port > 30)) {
            throw new IllegalArgumentException("virtio-serial port must be 1..30 (0 is for consoles): " + port);
        }
    }
}
