/**
 * {@code vmsnap img}: qemu-img's verbs with qemu-img's flags, output layouts and exit codes.
 * Each verb parses, calls the qcow2 library ({@code Images}, {@code ImageCopy},
 * {@code ImageCompare}, {@code Qcow2Image}) and prints; nothing here touches image bytes.
 */
package org.vmsnap.cli.img;
