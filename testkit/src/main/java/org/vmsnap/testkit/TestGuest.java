package org.vmsnap.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The small real guest that the live tests boot: a Debian kernel and a busybox initramfs
 * with the virtio modules, qemu-guest-agent, and a writer.
 *
 * <p>{@code build-guest.sh} (a resource next to this class) builds it from Debian packages
 * into {@code $VMSNAP_CACHE} (default {@code ~/.cache/vmsnap}), outside the repository,
 * under a name that hashes every input; a folder that is complete is reused, so only the
 * first run on a machine pays for the build (about 15-20 s, a 70 MB download).
 *
 * <p>What runs in the guest: {@code /init} loads the modules, starts the agent on the
 * virtio-serial port {@code org.qemu.guest_agent.0}, mounts {@code /dev/vda} (ext4) on
 * {@code /data} and starts the writer, which appends a record five times a second to
 * {@code /data/records} and prints its in-memory counter on the serial console:
 * <pre>
 *   record:  REC n boot md5("REC n boot")[0..8]
 *   serial:  COUNTER n boot=BOOT
 * </pre>
 * The boot id is new at every boot: the same id after a restore means the memory was
 * restored, not the guest rebooted. The ACPI power button ({@code system_powerdown}) stops
 * the writer, unmounts {@code /data} and powers off.
 *
 * <p>Two data disks: when {@code /dev/vdb} holds ext4 too ({@link #createDataDisk}), init mounts
 * it on {@code /data2} ({@link #SECOND_DISK_LINE}) and the writer appends each record to
 * {@code /data/records}, then the same record to {@code /data2/records}, each append fsync'd
 * before the next. So the disks of one atomic snapshot are in lockstep
 * ({@link DiskPair#inLockstep()}), while snapshots of the two disks taken apart are not. A vdb
 * without ext4 (a blank scratch disk) is left alone: the guest then behaves as with one disk.
 *
 * <p>Oracles for snapshots (the VM stopped, or the image read with QEMU's lock shared):
 * {@link #readRecords}, {@link #readDiskPair}, {@link #fsck} and {@link #needsRecovery}. A
 * snapshot taken while the guest's file systems were frozen ({@code guest-fsfreeze-freeze}) is
 * clean for {@code e2fsck -fn}, has no {@code needs_recovery}, and its records are contiguous; a
 * copy taken while the guest writes always has {@code needs_recovery} (ext4 sets it at mount and
 * clears it only on freeze and unmount).
 */
public final class TestGuest {

    /** The kernel command line: serial console, quiet, a panic powers off (with -no-reboot). */
    public static final String KERNEL_ARGS = "console=ttyS0 quiet panic=-1";

    /** Printed by init once the writer runs: the guest is up. */
    public static final String READY_LINE = "vmsnap-guest: writer started";

    /** Printed by init, before {@link #READY_LINE}, when it mounted an ext4 vdb on /data2. */
    public static final String SECOND_DISK_LINE = "vmsnap-guest: second data disk mounted";

    /** Guest RAM of {@link #domainXml(String, List, Path)}. */
    public static final int DEFAULT_MEMORY_MIB = 256;

    /**
     * A whole counter line: the boot id is always 8 hex digits (4 random bytes), so a line cut
     * where a destroyed QEMU stopped writing, or where a guest restored from memory picks up its
     * output, is not taken for a counter of another boot.
     */
    private static final Pattern COUNTER = Pattern.compile("^COUNTER (\\d+) boot=([0-9a-f]{8})\\s*$", Pattern.MULTILINE);
    private static final Pattern RECORD = Pattern.compile("REC (\\d+) ([0-9a-f]+) ([0-9a-f]{8})");

    private static TestGuest built;

    private final Path dir;

    private TestGuest(Path dir) {
        this.dir = dir;
    }

    /** The guest, built on first use (in this JVM: once) or taken from the cache. */
    public static synchronized TestGuest get() {
        if (built == null) {
            built = new TestGuest(build(cacheRoot()));
        }
        return built;
    }

    /** {@code $VMSNAP_CACHE}, or {@code ~/.cache/vmsnap}. */
    public static Path cacheRoot() {
        String env = System.getenv("VMSNAP_CACHE");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "vmsnap");
    }

    private static Path build(Path cacheRoot) {
        Path script = null;
        try (InputStream in = TestGuest.class.getResourceAsStream("guest/build-guest.sh")) {
            if (in == null) {
                throw new AssertionError("build-guest.sh is missing from the testkit jar");
            }
            script = Files.createTempFile("vmsnap-build-guest-", ".sh");
            Files.write(script, in.readAllBytes());
            QemuTools.Result result = QemuTools.run(List.of("bash", script.toString(), cacheRoot.toString()),
                    Duration.ofMinutes(10)).requireSuccess();
            List<String> lines = result.stdout().lines().toList();
            Path dir = Path.of(lines.getLast().strip());
            if (!Files.exists(dir.resolve("ready"))) {
                throw new AssertionError(result.describe("printed no finished guest folder"));
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run build-guest.sh", e);
        } finally {
            if (script != null) {
                try {
                    Files.deleteIfExists(script);
                } catch (IOException ignored) {
                    // a temp file left over is harmless
                }
            }
        }
    }

    public Path dir() {
        return dir;
    }

    public Path kernel() {
        return dir.resolve("vmlinuz");
    }

    public Path initrd() {
        return dir.resolve("initrd.cpio");
    }

    /**
     * The libvirt domain XML that runs this guest (see {@link GuestDomainXml}) with
     * {@link #DEFAULT_MEMORY_MIB} of RAM: the same XML serves libvirt ({@code virsh define}) and
     * vmsnap ({@code vmsnap define}).
     *
     * @param qcow2Disks the data disks, in order: vda, vdb, ...
     * @param serialLog  the file the serial console is appended to (counters, {@link #READY_LINE})
     */
    public String domainXml(String name, List<Path> qcow2Disks, Path serialLog) {
        return domainXml(name, DEFAULT_MEMORY_MIB, qcow2Disks, serialLog);
    }

    /** {@link #domainXml(String, List, Path)} with {@code memoryMiB} of guest RAM. */
    public String domainXml(String name, int memoryMiB, List<Path> qcow2Disks, Path serialLog) {
        return GuestDomainXml.of(name, memoryMiB, kernel(), initrd(), KERNEL_ARGS, qcow2Disks, serialLog);
    }

    /**
     * Makes the guest's data disk: an ext4 file system ({@code mkfs.ext4}, from e2fsprogs)
     * of {@code sizeMiB}, converted to qcow2 at {@code qcow2}.
     */
    public static void createDataDisk(Path qcow2, int sizeMiB) {
        Path raw = qcow2.resolveSibling(qcow2.getFileName() + ".raw");
        try {
            QemuTools.run(List.of(QemuTools.find("truncate", "coreutils").toString(), "-s", sizeMiB + "M", raw.toString()))
                    .requireSuccess();
            QemuTools.run(List.of(QemuTools.find("mkfs.ext4", "e2fsprogs").toString(), "-q", "-F", "-L", "data",
                    raw.toString())).requireSuccess();
            QemuTools.run(List.of(QemuTools.qemuImg().toString(), "convert", "-f", "raw", "-O", "qcow2",
                    raw.toString(), qcow2.toString())).requireSuccess();
        } finally {
            deleteQuietly(raw);
        }
    }

    /** A record the writer left on the data disk. */
    public record Record(long n, String boot) {
    }

    /** The records in {@code /records}, and the lines that are not a valid record. */
    public record Records(List<Record> valid, List<String> invalid) {

        public Records {
            valid = List.copyOf(valid);
            invalid = List.copyOf(invalid);
        }

        /** The highest record number, or 0 when there is none. */
        public long last() {
            return valid.isEmpty() ? 0 : valid.getLast().n();
        }

        /** Records 1..last, each once, in order, and no torn or corrupt line. */
        public boolean isContiguous() {
            for (int i = 0; i < valid.size(); i++) {
                if (valid.get(i).n() != i + 1) {
                    return false;
                }
            }
            return invalid.isEmpty();
        }
    }

    /** The records of the two data disks of one snapshot: {@code first} from vda, {@code second} from vdb. */
    public record DiskPair(Records first, Records second) {

        /**
         * Whether both disks come from one instant: the writer appends record n to vda, then to
         * vdb, so {@code second.last <= first.last <= second.last + 1}, and vdb holds the same
         * records as vda up to its last.
         */
        public boolean inLockstep() {
            long ahead = first.last() - second.last();
            return (ahead == 0 || ahead == 1) && second.valid().size() <= first.valid().size()
                    && first.valid().subList(0, second.valid().size()).equals(second.valid());
        }
    }

    /** What {@code e2fsck -fn} said about a copy of a data disk: exit code 0 means clean. */
    public record Fsck(int exitCode, String output) {

        public boolean clean() {
            return exitCode == 0;
        }
    }

    /**
     * Reads {@code /records} from the data disk {@code image} (qcow2 or raw; the VM stopped, or
     * running when a snapshot was just copied out of it) as the guest would see it after a
     * mount: on a copy ({@code qemu-img convert -U}) whose journal is replayed, then
     * {@code debugfs}; every record's checksum is checked. The second disk (the guest's
     * {@code /data2/records}) reads the same way.
     */
    public static Records readRecords(Path image, String format) {
        List<Record> valid = new ArrayList<>();
        List<String> invalid = new ArrayList<>();
        for (String line : Ext4Image.readFile(image, format, "/records").lines().toList()) {
            Matcher m = RECORD.matcher(line);
            if (m.matches() && md5Prefix("REC " + m.group(1) + " " + m.group(2)).equals(m.group(3))) {
                valid.add(new Record(Long.parseLong(m.group(1)), m.group(2)));
            } else {
                invalid.add(line);
            }
        }
        return new Records(valid, invalid);
    }

    /** The records of both data disks of one snapshot (vda's {@code /data}, vdb's {@code /data2}). */
    public static DiskPair readDiskPair(Path first, Path second, String format) {
        return new DiskPair(readRecords(first, format), readRecords(second, format));
    }

    /** {@code e2fsck -fn} of a copy of {@code image}: whether the file system is clean as it is, without journal replay. */
    public static Fsck fsck(Path image, String format) {
        return Ext4Image.fsck(image, format);
    }

    /**
     * Whether the ext4 superblock of {@code image} has {@code needs_recovery} ({@code dumpe2fs -h}):
     * true for a copy taken while the guest wrote, false after a freeze or an unmount.
     */
    public static boolean needsRecovery(Path image, String format) {
        return Ext4Image.needsRecovery(image, format);
    }

    /** A counter line the writer printed on the serial console. */
    public record Counter(long n, String boot) {
    }

    /** The complete counter lines in {@code serialText}, in order. */
    public static List<Counter> counters(String serialText) {
        List<Counter> out = new ArrayList<>();
        Matcher m = COUNTER.matcher(serialText.replace("\r", ""));
        while (m.find()) {
            out.add(new Counter(Long.parseLong(m.group(1)), m.group(2)));
        }
        return out;
    }

    /**
     * Waits until the serial log {@code log} contains {@code needle} after byte
     * {@code fromOffset}; returns the log text from that offset.
     *
     * @throws AssertionError with the log's tail when it does not appear in time
     */
    public static String awaitSerial(Path log, long fromOffset, String needle, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String text = "";
        while (true) {
            text = readFrom(log, fromOffset);
            if (text.contains(needle)) {
                return text;
            }
            if (System.nanoTime() - deadline > 0) {
                String tail = text.length() > 2000 ? text.substring(text.length() - 2000) : text;
                throw new AssertionError("'" + needle + "' did not appear in " + log + " within " + timeout
                        + "\n--- serial log (end) ---\n" + tail);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for the guest", e);
            }
        }
    }

    /** The text of {@code log} from byte {@code offset} on ("" when it does not exist yet). */
    public static String readFrom(Path log, long offset) {
        try {
            if (!Files.exists(log)) {
                return "";
            }
            byte[] all = Files.readAllBytes(log);
            int from = (int) Math.min(all.length, offset);
            return new String(all, from, all.length - from, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + log, e);
        }
    }

    static String md5Prefix(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("MD5").digest(text.getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(digest).substring(0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is part of every JDK", e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover scratch file is harmless
        }
    }
}
