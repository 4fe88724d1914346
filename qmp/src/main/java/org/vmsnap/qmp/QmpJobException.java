package org.vmsnap.qmp;

/** A QEMU job ({@code snapshot-save}, {@code block-commit}, ...) concluded with an error. */
public final class QmpJobException extends QmpCommandException {

    private final String jobId;

    public QmpJobException(String command, String jobId, String error) {
        super(command, "JobError", error, command + " job '" + jobId + "' failed: " + error);
        this.jobId = jobId;
    }

    public String jobId() {
        return jobId;
    }
}
