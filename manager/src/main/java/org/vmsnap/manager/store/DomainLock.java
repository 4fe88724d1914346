package org.vmsnap.manager.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

import org.vmsnap.manager.ManagerException;

/**
 * One vmsnap at a time per domain: an exclusive lock on the domain's {@code lock} file (held by
 * the process; the kernel drops it when the process dies, so a crash never leaves it held),
 * plus an in-process lock since file locks are per process.
 */
public final class DomainLock implements AutoCloseable {
    /** How long a second command waits for the first before giving up. */
    public static final long WAIT_MILLIS = Long.getLong("vmsnap.lockWaitMillis", 30_000);

    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private final ReentrantLock local;
    private final FileChannel channel;
    private final FileLock lock;

    private DomainLock(ReentrantLock local, FileChannel channel, FileLock lock) {
        this.local = local;
        this.channel = channel;
        this.lock = lock;
    }

    public static DomainLock acquire(Path lockFile, String domain) throws IOException {
        return acquire(lockFile, domain, WAIT_MILLIS);
    }

    /** Waits at most {@code waitMillis} for the lock, then fails with "busy". */
    public static DomainLock acquire(Path lockFile, String domain, long waitMillis) throws IOException {
        Path key = lockFile.toAbsolutePath().normalize();
        ReentrantLock local = IN_PROCESS.computeIfAbsent(key, k -> new ReentrantLock());
        long deadline = System.currentTimeMillis() + waitMillis;
        try {
            if (!local.tryLock(waitMillis, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                throw busy(domain);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw busy(domain);
        }
        FileChannel ch = null;
        try {
            AtomicFiles.privateDirectories(key.getParent());
            ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            while (true) {
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l != null) {
                    return new DomainLock(local, ch, l);
                }
                if (System.currentTimeMillis() >= deadline) {
                    throw busy(domain);
                }
                Thread.sleep(50);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            local.unlock();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw busy(domain);
            }
            if (e instanceof IOException io) {
                throw io;
            }
            throw (RuntimeException) e;
        }
    }

    private static ManagerException busy(String domain) {
        return new ManagerException("domain " + domain + " is busy (another vmsnap is working on it)");
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            channel.close();
        } finally {
            local.unlock();
        }
    }
}
