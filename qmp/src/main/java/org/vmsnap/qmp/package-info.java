/**
 * The live executor: running QEMU processes and talking to them.
 *
 * <ul>
 *   <li>{@link org.vmsnap.qmp.QemuProcess} starts QEMU for a {@link org.vmsnap.qmp.VmSpec}
 *       (detached, pid file and sockets in a {@link org.vmsnap.qmp.RunFolder}), finds it
 *       again, stops it;</li>
 *   <li>{@link org.vmsnap.qmp.QmpClient} is the QMP connection (commands, events) and
 *       {@link org.vmsnap.qmp.QemuJob} runs a QEMU job to its end;</li>
 *   <li>{@link org.vmsnap.qmp.GuestAgentClient} talks to qemu-guest-agent (ping, info,
 *       fsfreeze, and a freeze that always thaws);</li>
 *   <li>{@link org.vmsnap.qmp.MemoryStream} saves and restores a VM's memory through a
 *       UNIX socket that vmsnap serves, zstd-compressed.</li>
 * </ul>
 *
 * <p>Every failure is a {@link org.vmsnap.qmp.QmpException} subclass (connect, protocol,
 * command with QEMU's error class, disconnected, timeout) or a
 * {@link org.vmsnap.qmp.QemuProcessException}.
 */
package org.vmsnap.qmp;
