package org.vmsnap.qcow2;

/**
 * How to open an image.
 *
 * @param readOnly    open without write permission
 * @param forceShare  take no locks ({@code qemu-img -U}); only with readOnly
 * @param openBacking open the backing chain (false: unallocated data reads as zeros and
 *                    the backing file need not exist, as {@code qemu-img rebase -u} needs)
 * @param format      "qcow2", "raw", or null to probe (only ever for a name the user gave)
 */
public record OpenOptions(boolean readOnly, boolean forceShare, boolean openBacking, String format) {

    public static OpenOptions readWrite() {
        return new OpenOptions(false, false, true, null);
    }

    public static OpenOptions readOnlyOpen() {
        return new OpenOptions(true, false, true, null);
    }

    public OpenOptions withForceShare(boolean share) {
        return new OpenOptions(readOnly, share, openBacking, format);
    }

    public OpenOptions withOpenBacking(boolean open) {
        return new OpenOptions(readOnly, forceShare, open, format);
    }

    public OpenOptions withFormat(String fmt) {
        return new OpenOptions(readOnly, forceShare, openBacking, fmt);
    }

    public OpenOptions {
        if (forceShare && !readOnly) {
            throw new IllegalArgumentException("force-share (-U) is only allowed for read-only opens");
        }
    }
}
