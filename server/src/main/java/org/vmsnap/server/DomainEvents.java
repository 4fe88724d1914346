package org.vmsnap.server;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.xml.Domain;

/**
 * Domain state changes for GET /api/events: what {@code list --all} shows, looked at once a
 * second while someone listens (and at once after each job), with each difference sent as a
 * "domain" event named as libvirt names its lifecycle events (started, stopped, paused,
 * resumed, defined, undefined; "changed" for the rest). Looking is the way to see every change:
 * the CLI, another server and the guest itself (a shutdown from inside) change a domain's state
 * without telling this process. Nobody listening, nothing is looked at.
 */
final class DomainEvents implements AutoCloseable {
    private static final long PERIOD_MILLIS = 1000;

    private final DomainService domains;
    private final List<BlockingQueue<Job.Event>> listeners = new ArrayList<>();
    /** The states last seen (name, virsh's words), in list order; null while nobody listens. */
    private Map<String, DomainStatus.State> last;
    private final BlockingQueue<Boolean> pokes = new LinkedBlockingQueue<>();
    private Thread watcher;
    private boolean closed;

    DomainEvents(DomainService domains) {
        this.domains = domains;
    }

    /**
     * The libvirt word for a change of state: {@code from} null is a domain defined since the
     * last look, {@code to} null one undefined.
     */
    static String transition(DomainStatus.State from, DomainStatus.State to) {
        if (from == null) {
            return "defined";
        }
        if (to == null) {
            return "undefined";
        }
        boolean wasOff = from == DomainStatus.State.SHUTOFF;
        boolean isOff = to == DomainStatus.State.SHUTOFF;
        if (wasOff && !isOff) {
            return "started";
        }
        if (!wasOff && isOff) {
            return "stopped";
        }
        if (from == DomainStatus.State.RUNNING && to == DomainStatus.State.PAUSED) {
            return "paused";
        }
        if (from == DomainStatus.State.PAUSED && to == DomainStatus.State.RUNNING) {
            return "resumed";
        }
        return "changed";
    }

    /**
     * A queue that first gets a "domains" event (every domain's state now), then a "domain"
     * event for each change; starts the watcher if it does not run.
     */
    synchronized BlockingQueue<Job.Event> listen() throws IOException {
        if (last == null) {
            last = look();
        }
        BlockingQueue<Job.Event> q = new LinkedBlockingQueue<>();
        List<Map<String, Object>> now = new ArrayList<>();
        last.forEach((name, state) -> now.add(Map.of("domain", name, "state", state.words())));
        q.add(new Job.Event("domains", Map.of("domains", now)));
        listeners.add(q);
        if (watcher == null && !closed) {
            watcher = Thread.ofVirtual().name("vmsnap-domain-events").start(this::watch);
        }
        return q;
    }

    synchronized void unlisten(BlockingQueue<Job.Event> q) {
        listeners.remove(q);
    }

    /** Look now rather than at the next tick (a job that may have changed a state has ended). */
    void poke() {
        pokes.offer(Boolean.TRUE);
    }

    private void watch() {
        try {
            while (true) {
                pokes.poll(PERIOD_MILLIS, TimeUnit.MILLISECONDS);
                pokes.clear();
                synchronized (this) {
                    if (closed || listeners.isEmpty()) {
                        // Nobody listens: stop looking; the next listener starts from a fresh look.
                        watcher = null;
                        last = null;
                        return;
                    }
                    try {
                        compare(look());
                    } catch (IOException | RuntimeException e) {
                        // A state folder read that failed now (a domain being undefined): look again next tick.
                    }
                }
            }
        } catch (InterruptedException e) {
            synchronized (this) {
                watcher = null;
                last = null;
            }
        }
    }

    /** Every defined domain's state, as list --all; a domain undefined while we look is left out. */
    private Map<String, DomainStatus.State> look() throws IOException {
        Map<String, DomainStatus.State> now = new LinkedHashMap<>();
        for (Domain d : domains.list()) {
            try {
                now.put(d.name(), domains.status(d.name()).state());
            } catch (NotFoundException gone) {
                // undefined between the list and its status
            }
        }
        return now;
    }

    private void compare(Map<String, DomainStatus.State> now) {
        for (Map.Entry<String, DomainStatus.State> e : now.entrySet()) {
            DomainStatus.State before = last.get(e.getKey());
            if (before != e.getValue()) {
                emit(e.getKey(), before, e.getValue());
            }
        }
        for (Map.Entry<String, DomainStatus.State> e : last.entrySet()) {
            if (!now.containsKey(e.getKey())) {
                emit(e.getKey(), e.getValue(), null);
            }
        }
        last = now;
    }

    private void emit(String domain, DomainStatus.State from, DomainStatus.State to) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("domain", domain);
        data.put("event", transition(from, to));
        data.put("state", to == null ? null : to.words());
        data.put("previous", from == null ? null : from.words());
        Job.Event e = new Job.Event("domain", data);
        for (BlockingQueue<Job.Event> q : listeners) {
            q.add(e);
        }
    }

    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            closed = true;
            t = watcher;
        }
        if (t != null) {
            t.interrupt();
        }
    }
}
