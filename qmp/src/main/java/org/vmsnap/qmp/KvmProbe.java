package org.vmsnap.qmp;

import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whether KVM can run a guest here. An openable {@code /dev/kvm} is not enough: on the
 * nested machines of this project it opens, but {@code -cpu host} aborts on an MSR
 * ("failed to set MSR 0x10a") and the default CPU model runs no guest code at all. So the
 * probe boots the firmware under KVM with the CPU model vmsnap uses and waits for
 * SeaBIOS's banner on the serial port: a few hundred milliseconds where KVM works, at most
 * {@link #PROBE_MILLIS} where it does not. The answer is kept for the life of the JVM.
 */
final class KvmProbe {

    /** SeaBIOS prints its banner within ~0.1 s under KVM; 4 s covers a loaded machine. */
    static final long PROBE_MILLIS = 4000;

    private static Boolean usable;

    private KvmProbe() {
    }

    static synchronized boolean usable(Path qemu) {
        if (usable == null) {
            usable = deviceOpens() && bootsFirmware(qemu);
        }
        return usable;
    }

    private static boolean deviceOpens() {
        Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm)) {
            return false;
        }
        try {
            FileChannel.open(kvm, StandardOpenOption.READ, StandardOpenOption.WRITE).close();
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static boolean bootsFirmware(Path qemu) {
        Path serial = null;
        Process process = null;
        try {
            serial = Files.createTempFile("vmsnap-kvm-probe-", ".log");
            process = new ProcessBuilder(List.of(qemu.toString(), "-accel", "kvm", "-cpu", "host", "-machine", "pc",
                    "-m", "32M", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                    "-serial", "file:" + serial.toString().replace(",", ",,")))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PROBE_MILLIS);
            while (System.nanoTime() < deadline) {
                if (Files.readString(serial, StandardCharsets.ISO_8859_1).contains("SeaBIOS")) {
                    return true;
                }
                if (!process.isAlive()) {
                    return false;
                }
                Thread.sleep(50);
            }
            return false;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (process != null) {
                process.destroyForcibly();
                try {
                    process.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (serial != null) {
                try {
                    Files.deleteIfExists(serial);
                } catch (IOException ignored) {
                    // a temp file left over is harmless
                }
            }
        }
    }
}
