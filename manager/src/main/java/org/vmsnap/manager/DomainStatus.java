package org.vmsnap.manager;

/**
 * A domain's state as virsh shows it ({@code domstate --reason}): the state, the reason in
 * libvirt's words, and the Id while it runs.
 *
 * @param id     the Id (virsh's "Id" column) while QEMU runs, else -1
 * @param reason libvirt's reason word: booted, unpaused, user, shutdown, destroyed, crashed, unknown, ...
 */
public record DomainStatus(State state, String reason, int id) {

    /** libvirt's domain states, with the words virsh prints. */
    public enum State {
        RUNNING("running"),
        PAUSED("paused"),
        IN_SHUTDOWN("in shutdown"),
        SHUTOFF("shut off"),
        CRASHED("crashed"),
        PMSUSPENDED("pmsuspended");

        private final String words;

        State(String words) {
            this.words = words;
        }

        public String words() {
            return words;
        }
    }

    /** Whether a QEMU runs for the domain (running, paused, in shutdown, pmsuspended, crashed and kept). */
    public boolean active() {
        return id >= 0;
    }

    /** {@code running (booted)}: domstate --reason. */
    public String withReason() {
        return state.words() + " (" + reason + ")";
    }

    static DomainStatus shutOff(String reason) {
        return new DomainStatus(State.SHUTOFF, reason, -1);
    }
}
