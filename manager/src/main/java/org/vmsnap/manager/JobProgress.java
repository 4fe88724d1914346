package org.vmsnap.manager;

/** Where a long QEMU job (a block commit, a stream) reports how far it is. */
public interface JobProgress {
    /** {@code label}: what runs, in virsh's words ("Block commit", "Block pull"). */
    void update(String label, long done, long total);

    /** The job has ended. */
    void finish(String label);

    JobProgress NONE = new JobProgress() {
        @Override
        public void update(String label, long done, long total) {
        }

        @Override
        public void finish(String label) {
        }
    };
}
