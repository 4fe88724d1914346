package org.vmsnap.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * A job's life as its listeners see it: its state when they start listening, each progress report
 * the manager makes (a live delete's block commits report through the same JobProgress), then
 * one "end" with the result or the one-line error; a listener that comes after the end gets the
 * end alone.
 */
class JobsTest {

    static Job.Event next(BlockingQueue<Job.Event> q) throws InterruptedException {
        Job.Event e = q.poll(30, TimeUnit.SECONDS);
        assertThat(e).as("an event within 30 s").isNotNull();
        return e;
    }

    /** Waits inside an action, whose run may throw only IOException. */
    static void await(CountDownLatch latch) throws IOException {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IOException("test latch not released in 30 s");
            }
        } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    @Test
    void progressReportsReachListenersAndTheJobThenItsEnd() throws Exception {
        CountDownLatch listening = new CountDownLatch(1);
        CountDownLatch reported = new CountDownLatch(1);
        try (Jobs jobs = new Jobs()) {
            Job job = jobs.submit("snapshot-delete", "vm1", "s1", p -> {
                await(listening);
                p.update("Block commit", 1 << 20, 4 << 20);
                p.update("Block commit", 4 << 20, 4 << 20);
                p.finish("Block commit");
                await(reported);
                return Map.of("deleted", List.of("s1"));
            });
            BlockingQueue<Job.Event> q = job.listen();
            assertThat(next(q).type()).isEqualTo("state");
            listening.countDown();
            List<Job.Event> events = new ArrayList<>();
            while (events.size() < 2 || !events.getLast().type().equals("progress")
                    || !events.getLast().data().get("done").equals(4L << 20)) {
                events.add(next(q));
            }
            List<Job.Event> progress = events.stream().filter(e -> e.type().equals("progress")).toList();
            assertThat(progress).extracting(e -> e.data().get("done")).containsExactly(1L << 20, 4L << 20);
            assertThat(progress.getFirst().data()).containsEntry("label", "Block commit")
                    .containsEntry("total", 4L << 20).containsEntry("id", job.id);
            assertThat(job.json()).containsEntry("state", "running")
                    .containsEntry("progress", Map.of("label", "Block commit", "done", 4L << 20, "total", 4L << 20));
            reported.countDown();
            Job.Event end;
            do {
                end = next(q);
            } while (!end.type().equals("end"));
            assertThat(end.data()).containsEntry("state", "succeeded")
                    .containsEntry("result", Map.of("deleted", List.of("s1"))).containsEntry("error", null);
            assertThat(q).isEmpty();
            // After the end: the end alone.
            BlockingQueue<Job.Event> late = job.listen();
            assertThat(late).hasSize(1);
            assertThat(late.peek().type()).isEqualTo("end");
            assertThat(jobs.get(job.id)).isSameAs(job);
        }
    }

    @Test
    void aFailureIsOneLineWithoutTheExceptionsClass() throws Exception {
        try (Jobs jobs = new Jobs()) {
            Job job = jobs.submit("snapshot-revert", "vm1", "s1", p -> {
                throw new IOException("disk vda: /x.qcow2: cannot open\nsecond line");
            });
            BlockingQueue<Job.Event> q = job.listen();
            Job.Event e;
            do {
                e = next(q);
            } while (!e.type().equals("end"));
            assertThat(e.data()).containsEntry("state", "failed")
                    .containsEntry("error", "disk vda: /x.qcow2: cannot open second line").containsEntry("result", null);
        }
    }
}
