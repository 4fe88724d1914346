/**
 * Positional storage under the qcow2 engine.
 *
 * <p>Callers need {@link org.vmsnap.qcow2.io.BlockStore} and
 * {@link org.vmsnap.qcow2.io.FileBlockStore#open}/{@link org.vmsnap.qcow2.io.FileBlockStore#create}
 * (which take QEMU's image locks); tests use {@link org.vmsnap.qcow2.io.MemoryBlockStore} and,
 * for crash injection, {@link org.vmsnap.qcow2.io.FaultyBlockStore}. Native calls (OFD locks,
 * hole punching, SEEK_DATA) need {@code --enable-native-access=ALL-UNNAMED} to run without a
 * JVM warning.
 */
package org.vmsnap.qcow2.io;
