package org.vmsnap.qcow2;

/**
 * Reports how far a long operation (convert, compare) has got, in bytes of the virtual
 * disk. Called from the thread doing the work, after each step; cheap to ignore.
 */
@FunctionalInterface
public interface Progress {

    /** A progress sink that ignores everything. */
    Progress NONE = (doneBytes, totalBytes) -> { };

    /**
     * @param doneBytes  bytes of the virtual disk handled so far (never decreases)
     * @param totalBytes bytes the whole operation handles
     */
    void update(long doneBytes, long totalBytes);
}
