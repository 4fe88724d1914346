package org.vmsnap.qmp.hw;

import java.nio.file.Path;

/**
 * A VNC server for the guest's display: on a TCP address, or on a UNIX socket.
 *
 * <p>Without libvirt there is no port allocator: an automatic port ({@code display} null) is
 * QEMU's own search from display 0 (port 5900) up to display 99 (port 5999), the first free one;
 * QMP's {@code query-vnc} tells which it took.
 *
 * @param host    the listen address (an IPv4 or IPv6 literal, or a host name); null with a socket
 * @param display port - 5900, or null for the first free one
 * @param socket  a UNIX socket instead of TCP, or null
 */
public record Vnc(String host, Integer display, Path socket) {

    /** Displays QEMU tries for an automatic port: 5900..5999. */
    public static final int AUTO_LAST_DISPLAY = 99;

    public Vnc {
        if ((socket == null) == (host == null)) {
            throw new IllegalArgumentException("VNC listens on a host or on a socket");
        }
        if (socket != null && display != null) {
            throw new IllegalArgumentException("a VNC socket has no display number");
        }
        if (host != null && !host.matches("[A-Za-z0-9.:-]+")) {
            throw new IllegalArgumentException("VNC listen address is not an address or host name: " + host);
        }
        if (display != null && (display < 0 || display > 59635)) {
            throw new IllegalArgumentException("VNC display must be 0..59635 (port 5900..65535): " + display);
        }
    }

    public static Vnc localhost(Integer display) {
        return new Vnc("127.0.0.1", display, null);
    }
}
