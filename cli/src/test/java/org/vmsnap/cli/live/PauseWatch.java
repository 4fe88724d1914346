package org.vmsnap.cli.live;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpEvent;

/**
 * The guest's pauses seen from outside: a QMP monitor of its own (added to the domain XML with
 * {@code <qemu:commandline>}, so vmsnap and libvirt run the same XML) and the time between each
 * {@code STOP} event and the next {@code RESUME}, by QEMU's own event timestamps.
 */
final class PauseWatch implements AutoCloseable {
    private final QmpClient qmp;
    private final List<QmpEvent> events = new ArrayList<>();
    private final QmpClient.Subscription subscription;

    private PauseWatch(QmpClient qmp) {
        this.qmp = qmp;
        this.subscription = qmp.subscribe(e -> {
            if (e.name().equals("STOP") || e.name().equals("RESUME")) {
                synchronized (events) {
                    events.add(e);
                }
            }
        });
    }

    /** The domain XML with a second QMP monitor on {@code socket} (libvirt's qemu namespace). */
    static String withMonitor(String domainXml, Path socket) {
        return domainXml.replaceFirst("<domain type='qemu'>",
                        "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
                .replace("</domain>", "  <qemu:commandline>\n    <qemu:arg value='-qmp'/>\n"
                        + "    <qemu:arg value='unix:" + socket + ",server=on,wait=off'/>\n  </qemu:commandline>\n"
                        + "</domain>");
    }

    static PauseWatch connect(Path socket) throws Exception {
        return new PauseWatch(QmpClient.connect(socket, Duration.ofSeconds(30)));
    }

    QmpClient qmp() {
        return qmp;
    }

    /** Forgets the events seen so far. */
    void reset() {
        synchronized (events) {
            events.clear();
        }
    }

    /** Each STOP..RESUME interval seen since the last reset (a STOP without RESUME yet is left out). */
    List<Duration> pauses() {
        List<Duration> out = new ArrayList<>();
        Instant stop = null;
        synchronized (events) {
            for (QmpEvent e : events) {
                if (e.name().equals("STOP")) {
                    stop = e.timestamp();
                } else if (stop != null) {
                    out.add(Duration.between(stop, e.timestamp()));
                    stop = null;
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        subscription.close();
        qmp.close();
    }
}
