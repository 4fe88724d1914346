package org.vmsnap.qcow2;

/** {@code qemu-img check -r}: nothing, leaks only, or leaks and refcount errors. */
public enum RepairMode {
    NONE, LEAKS, ALL
}
