/**
 * Positional storage under the qcow2 engine.
 *
 * <p>Callers need {@link org.vmsnap.qcow2.io.BlockStore} and
 * {@link org.vmsnap.qcow2.io.FileBlockStore#open}/{@link org.vmsnap.qcow2.io.FileBlockStore#create}
 * (which take QEMU's image locks). The test doubles (MemoryBlockStore and, for crash injection,
 * FaultyBlockStore) live in this package of the module's test sources. The package is not
 * exported: other modules go through {@code org.vmsnap.qcow2}. Native calls (OFD locks,
 * hole punching, SEEK_DATA) need {@code --enable-native-access=ALL-UNNAMED} to run without a
 * JVM warning.
 */
package org.vmsnap.qcow2.io;
