package org.vmsnap.manager.live;

import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.vmsnap.manager.ManagerException;

/**
 * What vmsnap knows about a domain's QEMU while it runs, kept in the {@code runtime} file of its
 * run folder ({@link org.vmsnap.manager.store.RunRoot}, outside the state folder, so that a
 * running QEMU is found again after the state folder was lost). It is written before QEMU starts
 * (so a QEMU whose starter died is found through its run folder's pid file) and removed once a
 * command has seen that QEMU is gone.
 *
 * <pre>
 * vmsnap-runtime 1
 * id 3
 * run /run/user/1000/vmsnap/0f3a...
 * ...            (one "key value" line per field, values url-encoded, ~ for none)
 * </pre>
 *
 * @param id          the domain's Id while it runs (virsh's "Id" column)
 * @param runDir      the run folder (sockets, pid file, logs, exit status)
 * @param qmpSocket   QEMU's QMP socket
 * @param agentSocket the guest agent's socket, or null when the domain has no agent channel
 * @param pid         the QEMU process of an attached domain; 0 for one vmsnap started (its pid file is the truth)
 * @param adopted     the QEMU was started by someone else ({@code vmsnap attach}); vmsnap never stops it unless told
 * @param startedMillis when vmsnap started (or attached) it
 * @param runReason   why it runs, in virsh's words: booted, unpaused, from snapshot, restored
 * @param pauseReason why it is paused, when vmsnap paused it: user, ... (null otherwise)
 * @param stopIntent  a stop vmsnap asked for and has not yet seen happen: shutdown or destroyed (else null)
 */
public record RunRecord(int id, Path runDir, Path qmpSocket, Path agentSocket, long pid, boolean adopted,
                        long startedMillis, String runReason, String pauseReason, String stopIntent) {

    private static final String MAGIC = "vmsnap-runtime 1";
    private static final String NONE = "~";

    public RunRecord withRunReason(String reason) {
        return new RunRecord(id, runDir, qmpSocket, agentSocket, pid, adopted, startedMillis, reason, pauseReason,
                stopIntent);
    }

    public RunRecord withPauseReason(String reason) {
        return new RunRecord(id, runDir, qmpSocket, agentSocket, pid, adopted, startedMillis, runReason, reason,
                stopIntent);
    }

    public RunRecord withStopIntent(String intent) {
        return new RunRecord(id, runDir, qmpSocket, agentSocket, pid, adopted, startedMillis, runReason, pauseReason,
                intent);
    }

    public String encode() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("id", id);
        f.put("run", runDir);
        f.put("qmp", qmpSocket);
        f.put("agent", agentSocket);
        f.put("pid", pid);
        f.put("adopted", adopted);
        f.put("started", startedMillis);
        f.put("run-reason", runReason);
        f.put("pause-reason", pauseReason);
        f.put("stop-intent", stopIntent);
        StringBuilder b = new StringBuilder(MAGIC).append('\n');
        f.forEach((k, v) -> b.append(k).append(' ')
                .append(v == null ? NONE : URLEncoder.encode(v.toString(), StandardCharsets.UTF_8)).append('\n'));
        return b.toString();
    }

    /** Parses a runtime file's text; a damaged one names the file. */
    public static RunRecord decode(String text, Path file) throws ManagerException {
        String[] lines = text.split("\n");
        if (lines.length == 0 || !lines[0].equals(MAGIC)) {
            throw new ManagerException(file + ": not a vmsnap runtime file");
        }
        Map<String, String> f = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int sp = lines[i].indexOf(' ');
            if (sp > 0) {
                String v = lines[i].substring(sp + 1);
                f.put(lines[i].substring(0, sp), v.equals(NONE) ? null : URLDecoder.decode(v, StandardCharsets.UTF_8));
            }
        }
        try {
            return new RunRecord(Integer.parseInt(f.get("id")), Path.of(f.get("run")), Path.of(f.get("qmp")),
                    f.get("agent") == null ? null : Path.of(f.get("agent")), Long.parseLong(f.get("pid")),
                    Boolean.parseBoolean(f.get("adopted")), Long.parseLong(f.get("started")), f.get("run-reason"),
                    f.get("pause-reason"), f.get("stop-intent"));
        } catch (RuntimeException e) {
            throw new ManagerException(file + ": damaged vmsnap runtime file (" + e.getMessage() + ")", e);
        }
    }

    /** Reads {@code file}, or null when there is none. */
    public static RunRecord read(Path file) throws IOException {
        String text = org.vmsnap.manager.store.AtomicFiles.readOrNull(file);
        return text == null ? null : decode(text, file);
    }
}
