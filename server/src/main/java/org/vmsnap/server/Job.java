package org.vmsnap.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.vmsnap.manager.JobProgress;

/**
 * One action the server runs for a request: its id, what it does (virsh's verb, the domain, the
 * snapshot), its state (queued, running, succeeded, failed), the last progress a long QEMU job
 * reported, and its result or one-line error. Listeners (the event streams) get every change as
 * an {@link Event}; the last one is always "end".
 */
final class Job implements JobProgress {
    enum State {
        QUEUED, RUNNING, SUCCEEDED, FAILED;

        String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A server-sent event: its type (state, progress, end) and its JSON data. */
    record Event(String type, Map<String, Object> data) {
    }

    final String id;
    final String operation;
    final String domain;
    final String snapshot;
    final long createdMillis = System.currentTimeMillis();
    private State state = State.QUEUED;
    private Map<String, Object> progress;
    private Object result;
    private String error;
    private long endedMillis;
    private final List<BlockingQueue<Event>> listeners = new ArrayList<>();

    Job(String id, String operation, String domain, String snapshot) {
        this.id = id;
        this.operation = operation;
        this.domain = domain;
        this.snapshot = snapshot;
    }

    synchronized boolean ended() {
        return state == State.SUCCEEDED || state == State.FAILED;
    }

    /** GET /api/jobs/{id}. */
    synchronized Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("operation", operation);
        m.put("domain", domain);
        m.put("snapshot", snapshot);
        m.put("state", state.word());
        m.put("progress", progress);
        m.put("result", result);
        m.put("error", error);
        m.put("created", createdMillis);
        m.put("ended", ended() ? endedMillis : null);
        return m;
    }

    /**
     * A queue that gets this job's state now, then every change; when the job has ended, the
     * queue holds the "end" event already and nothing more comes.
     */
    synchronized BlockingQueue<Event> listen() {
        BlockingQueue<Event> q = new LinkedBlockingQueue<>();
        q.add(new Event(ended() ? "end" : "state", json()));
        if (!ended()) {
            listeners.add(q);
        }
        return q;
    }

    synchronized void unlisten(BlockingQueue<Event> q) {
        listeners.remove(q);
    }

    synchronized void running() {
        state = State.RUNNING;
        emit(new Event("state", json()));
    }

    synchronized void succeeded(Object r) {
        result = r;
        end(State.SUCCEEDED);
    }

    synchronized void failed(String message) {
        error = message;
        end(State.FAILED);
    }

    private void end(State s) {
        state = s;
        endedMillis = System.currentTimeMillis();
        emit(new Event("end", json()));
        listeners.clear();
    }

    private void emit(Event e) {
        for (BlockingQueue<Event> q : listeners) {
            q.add(e);
        }
    }

    /** From the manager's long QEMU jobs (a live delete's block commits). */
    @Override
    public synchronized void update(String label, long done, long total) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("label", label);
        p.put("done", done);
        p.put("total", total);
        progress = p;
        Map<String, Object> data = new LinkedHashMap<>(p);
        data.put("id", id);
        emit(new Event("progress", data));
    }

    @Override
    public void finish(String label) {
        // The end of one QEMU job; the action's end is reported by succeeded/failed.
    }
}
