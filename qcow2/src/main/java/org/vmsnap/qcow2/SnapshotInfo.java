package org.vmsnap.qcow2;

/**
 * One internal snapshot as {@code qemu-img info --output=json} lists it.
 *
 * @param id           the snapshot's id string (QEMU assigns "1", "2", ...)
 * @param name         the snapshot's name (tag)
 * @param vmStateSize  bytes of VM state saved with it (0 for disk-only)
 * @param dateSec      creation time, seconds since the epoch
 * @param dateNsec     nanoseconds part of the creation time
 * @param vmClockNsec  guest clock at creation, nanoseconds
 * @param icount       instruction count, or -1 when not recorded
 * @param diskSizeBytes virtual disk size at creation
 */
public record SnapshotInfo(String id, String name, long vmStateSize, long dateSec, int dateNsec,
                           long vmClockNsec, long icount, long diskSizeBytes) {
}
