/**
 * Test support shared by every module: QEMU as the oracle and a model to compare against.
 *
 * <ul>
 *   <li>{@link org.vmsnap.testkit.QemuImg} and {@link org.vmsnap.testkit.QemuIo}: qemu-img and
 *       qemu-io behind small methods that fail loudly (built on {@link org.vmsnap.testkit.QemuTools});</li>
 *   <li>{@link org.vmsnap.testkit.ReferenceDisk} and {@link org.vmsnap.testkit.SeededRun}: the
 *       in-memory disk model and seeded, replayable model-based runs;</li>
 *   <li>{@link org.vmsnap.testkit.BadImages}: hostile qcow2 images, one broken field each;</li>
 *   <li>{@link org.vmsnap.testkit.TestGuest}: a small real guest (Debian kernel, busybox,
 *       qemu-guest-agent, a record writer on one or two disks) built from Debian packages for the
 *       live tests, its libvirt domain XML, and the oracles that read its disks (records, lockstep,
 *       e2fsck, needs_recovery);</li>
 *   <li>{@link org.vmsnap.testkit.Libvirt}: a private libvirt 9.0 daemon to compare vmsnap with.</li>
 * </ul>
 */
package org.vmsnap.testkit;
