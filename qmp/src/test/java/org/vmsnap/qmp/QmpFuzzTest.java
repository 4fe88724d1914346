package org.vmsnap.qmp;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of everything vmsnap reads from QEMU's QMP socket and from the
 * guest agent: the fuzzer's bytes are what the peer sends, over a real UNIX socket, to the
 * real clients ({@link QmpClient}, {@link GuestAgentClient}). The property: every call ends
 * (by its answer, by end of stream or by its timeout) with a result or a {@link QmpException};
 * a RuntimeException (also one the QMP reader thread caught and wrapped), an Error, a hang
 * or running out of memory is a finding. The agent is the input an attacker inside the guest
 * controls.
 *
 * <p>Seeds ({@code src/test/resources/org/vmsnap/qmp/QmpFuzzTestInputs/<method>/}) are
 * transcripts recorded from QEMU 7.2 and its guest agent (see {@code seeds.md} there); in
 * agent seeds {@code $ID} stands for the id of the client's guest-sync-delimited.
 *
 * <p>Regression mode runs in every {@code mvn verify}; fuzzing mode: {@code bench/fuzz.sh}.
 */
class QmpFuzzTest {

    /** Every call's limit; the peer ends the stream at once, so it is rarely reached. */
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    private static HostilePeer qemu;
    private static HostilePeer guest;

    @BeforeAll
    static void peers() throws IOException {
        qemu = new HostilePeer(false);
        guest = new HostilePeer(true);
    }

    @AfterAll
    static void closePeers() throws IOException {
        qemu.close();
        guest.close();
    }

    @FuzzTest(maxDuration = "2m")
    void qmpReplies(byte[] stream) throws Exception {
        qemu.answerWith(stream);
        try (QmpClient qmp = QmpClient.connect(qemu.socket(), TIMEOUT);
             QmpClient.EventStream events = qmp.events(e -> true)) {
            qmp.execute("query-status", null, TIMEOUT);
            qmp.execute("query-block", null, TIMEOUT);
            drain(events);
        } catch (QmpException refused) {
            requireNoRuntimeCause(refused);
        }
    }

    @FuzzTest(maxDuration = "2m")
    void agentReplies(byte[] stream) throws Exception {
        guest.answerWith(stream);
        try (GuestAgentClient agent = GuestAgentClient.connect(guest.socket(), TIMEOUT)) {
            agent.info();
            agent.fsfreezeStatus();
            agent.whileFrozen(List.of("/"), () -> "snapshot");
            agent.call("guest-get-fsinfo", null);
        } catch (QmpException refused) {
            requireNoRuntimeCause(refused);
        }
    }

    /** Takes the events that came; they were parsed on the reader thread. */
    private static void drain(QmpClient.EventStream events) throws QmpException {
        try {
            while (true) {
                events.next(Duration.ZERO);
            }
        } catch (QmpTimeoutException none) {
            // all taken
        }
    }

    /** The QMP reader wraps what it did not expect; a wrapped RuntimeException is a bug too. */
    private static void requireNoRuntimeCause(Throwable t) {
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            if (c instanceof RuntimeException runtime) {
                throw runtime;
            }
        }
    }
}
