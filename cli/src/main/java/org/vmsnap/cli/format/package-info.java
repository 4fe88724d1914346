/**
 * Output primitives that must match QEMU byte for byte: C printf conversions
 * ({@link org.vmsnap.cli.format.CFormat}), QEMU's JSON member order and escaping
 * ({@link org.vmsnap.cli.format.QemuJson}) and qemu-img's size syntax
 * ({@link org.vmsnap.cli.format.SizeArg}).
 */
package org.vmsnap.cli.format;
