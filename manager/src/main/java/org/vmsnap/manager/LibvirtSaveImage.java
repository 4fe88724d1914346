package org.vmsnap.manager;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.vmsnap.qmp.MemoryFile;
import org.vmsnap.qmp.MemoryStream;

/**
 * A save image written by libvirt 9.0's {@code virsh save} / managedsave (src/qemu/qemu_saveimage.h):
 * <pre>
 *  0 16 magic "LibvirtQemudSave" ("LibvirtQemudPart" while libvirt still writes it)
 * 16  4 version, 2 (host byte order: little-endian here; a swapped 2 means the other order)
 * 20  4 data_len: bytes of XML, cookie and padding after the header
 * 24  4 was_running
 * 28  4 compressed: 0 raw, 1 gzip, 2 bzip2, 3 xz, 4 lzop
 * 32  4 cookieOffset (version 2): the cookie's offset from the end of the header, 0 if none
 * 36 56 unused
 * 92    the domain XML (NUL-terminated), the cookie, padding; then at 92 + data_len QEMU's
 *       stream, through the compressor when compressed (libvirt pipes it through "PROG -dc")
 * </pre>
 * Opening checks the header, the XML and the stream: a raw stream must begin with QEMU's
 * "QEVM" magic; a compressed one is tested whole by its program ({@code -t}) before QEMU starts.
 */
record LibvirtSaveImage(Path file, String domainXml, boolean wasRunning, int compression, long streamOffset)
        implements SaveImage {
    private static final byte[] MAGIC = "LibvirtQemudSave".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PARTIAL = "LibvirtQemudPart".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_BYTES = 92;
    /** libvirt reads at most this much XML and cookie (a damaged data_len must not make us allocate GiBs). */
    private static final int MAX_DATA_BYTES = 16 << 20;
    /** The compressors by libvirt's enum value; their Debian packages: gzip, bzip2, xz-utils, lzop. */
    private static final List<String> PROGRAMS = List.of("raw", "gzip", "bzip2", "xz", "lzop");
    private static final byte[] QEVM = {'Q', 'E', 'V', 'M'};

    static boolean hasMagic(Path file) throws IOException {
        byte[] m = head(file, 16);
        return Arrays.equals(m, MAGIC) || Arrays.equals(m, PARTIAL);
    }

    private static byte[] head(Path file, int n) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read on
            }
            return Arrays.copyOf(b.array(), b.position());
        }
    }

    static LibvirtSaveImage open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            if (h.position() < HEADER_BYTES) {
                throw bad(file, size, "libvirt save image cut short inside its " + HEADER_BYTES + "-byte header");
            }
            if (Arrays.equals(Arrays.copyOf(h.array(), 16), PARTIAL)) {
                throw bad(file, 0, "an unfinished libvirt save image (magic LibvirtQemudPart: the save did not"
                        + " complete)");
            }
            if (h.getInt(16) == Integer.reverseBytes(2)) {
                h.order(ByteOrder.BIG_ENDIAN); // written on a host of the other byte order
            }
            int version = h.getInt(16);
            if (version != 2 && version != 1) {
                throw bad(file, 16, "unsupported libvirt save image version " + version);
            }
            int dataLen = h.getInt(20);
            int compressed = h.getInt(28);
            int cookieOffset = version == 2 ? h.getInt(32) : 0;
            if (dataLen <= 0 || dataLen > MAX_DATA_BYTES || HEADER_BYTES + (long) dataLen > size) {
                throw bad(file, 20, "damaged or cut short: data_len " + Integer.toUnsignedString(dataLen)
                        + " in a file of " + size + " bytes");
            }
            if (compressed < 0 || compressed >= PROGRAMS.size()) {
                throw bad(file, 28, "unknown compression " + compressed + " (libvirt 9.0 knows 0-4: raw, gzip,"
                        + " bzip2, xz, lzop)");
            }
            ByteBuffer data = ByteBuffer.allocate(dataLen);
            ch.read(data, HEADER_BYTES);
            int xmlEnd = 0;
            int xmlLimit = cookieOffset > 0 && cookieOffset <= dataLen ? cookieOffset : dataLen;
            while (xmlEnd < xmlLimit && data.get(xmlEnd) != 0) {
                xmlEnd++;
            }
            if (xmlEnd == 0 || xmlEnd == xmlLimit) {
                throw bad(file, HEADER_BYTES, "damaged: no NUL-terminated domain XML after the header");
            }
            // The agent socket libvirt made in its own folder is libvirt's: vmsnap's QEMU uses its run folder.
            String xml = new String(data.array(), 0, xmlEnd, StandardCharsets.UTF_8).replaceAll(
                    "\\s*<source mode='bind' path='/var/lib/libvirt/qemu/channel/target/[^']*'/>", "");
            xml = withImplicitDevices(xml);
            LibvirtSaveImage image = new LibvirtSaveImage(file, xml, h.getInt(24) != 0, compressed,
                    HEADER_BYTES + (long) dataLen);
            image.check(ch, size);
            return image;
        }
    }

    /**
     * libvirt saves the "migratable" XML, which leaves out devices its own parser adds back by
     * default; the QEMU that loads the state must have them. For an i440fx machine that is the
     * USB controller: piix3-uhci at 00:01.2 when the XML names no USB controller.
     */
    static String withImplicitDevices(String xml) {
        boolean i440fx = xml.matches("(?s).*<type[^>]*machine=['\"]pc(-i440fx[^'\"]*)?['\"].*");
        if (i440fx && !xml.contains("<controller type='usb'") && !xml.contains("<controller type=\"usb\"")) {
            int end = xml.lastIndexOf("</devices>");
            if (end > 0) {
                return xml.substring(0, end) + "  <controller type='usb' index='0' model='piix3-uhci'>\n"
                        + "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>\n"
                        + "    </controller>\n  " + xml.substring(end);
            }
        }
        return xml;
    }

    private void check(FileChannel ch, long size) throws IOException {
        if (size - streamOffset < 4) {
            throw bad(file, streamOffset, "cut short: no migration stream after the XML");
        }
        if (compression == 0) {
            ByteBuffer m = ByteBuffer.allocate(4);
            ch.read(m, streamOffset);
            if (!Arrays.equals(m.array(), QEVM)) {
                throw bad(file, streamOffset, "damaged: the migration stream does not begin with QEMU's QEVM magic");
            }
            return;
        }
        // The whole compressed stream is tested by its own program, which also notices a cut.
        Process p = program("-t");
        try {
            pump(p, null);
        } catch (IOException e) {
            throw bad(file, streamOffset, "the " + PROGRAMS.get(compression) + " stream is damaged or cut short: "
                    + e.getMessage());
        }
    }

    private Process program(String flag) throws IOException {
        String prog = PROGRAMS.get(compression);
        try {
            return new ProcessBuilder(prog, flag).redirectError(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new InvalidInputException(file + ": compressed with " + prog + ", which is not installed ("
                    + e.getMessage() + ")");
        }
    }

    /**
     * Feeds the stream from the file to the program and its output to {@code out} (null: drained);
     * a program that fails is an IOException with its complaint.
     */
    private long pump(Process p, WritableByteChannel out) throws IOException {
        CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> {
            try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
                 OutputStream stdin = p.getOutputStream()) {
                WritableByteChannel w = Channels.newChannel(stdin);
                long pos = streamOffset;
                long end = in.size();
                while (pos < end) {
                    pos += in.transferTo(pos, end - pos, w);
                }
            } catch (IOException e) {
                // the program stopped reading: its exit status says why
            }
        });
        CompletableFuture<byte[]> stderr = CompletableFuture.supplyAsync(() -> {
            try (InputStream e = p.getErrorStream()) {
                return e.readAllBytes();
            } catch (IOException e) {
                return new byte[0];
            }
        });
        long total = 0;
        try (InputStream stdout = p.getInputStream()) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = stdout.read(buf)) >= 0) {
                if (out != null) {
                    ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                    try {
                        while (b.hasRemaining()) {
                            out.write(b);
                        }
                    } catch (IOException e) {
                        p.destroyForcibly();
                        throw new MemoryFile.PeerClosedException(total, e);
                    }
                }
                total += n;
            }
        } finally {
            feeder.join();
        }
        int status;
        try {
            status = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new java.io.InterruptedIOException("interrupted");
        }
        if (status != 0) {
            String why = new String(stderr.join(), StandardCharsets.UTF_8).strip().lines().reduce((a, b) -> b)
                    .orElse("exit status " + status);
            throw new IOException(why);
        }
        return total;
    }

    @Override
    public MemoryStream.StreamSource source() {
        return out -> {
            if (compression == 0) {
                try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                    long pos = streamOffset;
                    long end = in.size();
                    try {
                        while (pos < end) {
                            pos += in.transferTo(pos, end - pos, out);
                        }
                    } catch (IOException e) {
                        throw new MemoryFile.PeerClosedException(pos - streamOffset, e);
                    }
                    return end - streamOffset;
                }
            }
            return pump(program("-dc"), out);
        };
    }

    private static InvalidInputException bad(Path file, long offset, String reason) {
        return new InvalidInputException(file + ": " + reason + " (at offset 0x" + Long.toHexString(offset) + ")");
    }
}
