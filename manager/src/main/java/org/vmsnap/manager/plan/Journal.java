package org.vmsnap.manager.plan;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.store.AtomicFiles;

/**
 * The intent record of one running plan. The whole plan is written atomically before its first
 * step; then one {@code done N} line is appended (and synced) after each step. The file is
 * removed when the plan has finished or been undone, so its presence means "interrupted".
 *
 * <pre>
 * vmsnap-journal 1
 * plan  &lt;what, url-encoded&gt;
 * step  &lt;Kind&gt; &lt;field&gt; ...      (fields url-encoded, ~ for null)
 * done  &lt;N&gt;
 * </pre>
 */
public final class Journal {
    private static final String MAGIC = "vmsnap-journal 1";
    private static final String NULL = "~";

    private final Path file;

    public Journal(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    public boolean exists() {
        return Files.exists(file);
    }

    /** An interrupted plan and how many of its steps finished. */
    public record Entry(String what, List<Step> steps, int done) {
    }

    void begin(String what, List<Step> steps) throws IOException {
        StringBuilder b = new StringBuilder(MAGIC).append('\n');
        b.append("plan ").append(enc(what)).append('\n');
        for (Step s : steps) {
            b.append("step ").append(encode(s)).append('\n');
        }
        AtomicFiles.write(file, b.toString());
    }

    void markDone(int stepNumber) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer buf = ByteBuffer.wrap(("done " + stepNumber + "\n").getBytes(StandardCharsets.US_ASCII));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(false);
        }
    }

    void finish() throws IOException {
        AtomicFiles.delete(file);
    }

    public Entry read() throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.getFirst().equals(MAGIC)) {
            throw new ManagerException(file + ": not a vmsnap journal (first line " + (lines.isEmpty() ? "missing"
                    : "'" + lines.getFirst() + "'") + ")");
        }
        String what = "?";
        List<Step> steps = new ArrayList<>();
        int done = 0;
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.startsWith("plan ")) {
                what = dec(line.substring(5));
            } else if (line.startsWith("step ")) {
                steps.add(decode(line.substring(5), i + 1));
            } else if (line.startsWith("done ")) {
                try {
                    done = Math.max(done, Integer.parseInt(line.substring(5).strip()));
                } catch (NumberFormatException e) {
                    break; // a torn last line: the step it would have marked is treated as not done
                }
            } else if (!line.isEmpty()) {
                break; // torn append
            }
        }
        return new Entry(what, steps, Math.min(done, steps.size()));
    }

    static String encode(Step s) {
        StringBuilder b = new StringBuilder(s.getClass().getSimpleName());
        for (RecordComponent c : s.getClass().getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(s);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException(e);
            }
            b.append(' ').append(v == null ? NULL : enc(v.toString()));
        }
        return b.toString();
    }

    private Step decode(String text, int lineNo) throws ManagerException {
        String[] parts = text.split(" ", -1);
        for (Class<?> k : Step.class.getPermittedSubclasses()) {
            if (!k.getSimpleName().equals(parts[0])) {
                continue;
            }
            RecordComponent[] comps = k.getRecordComponents();
            if (comps.length != parts.length - 1) {
                break;
            }
            Object[] args = new Object[comps.length];
            Class<?>[] types = new Class<?>[comps.length];
            for (int i = 0; i < comps.length; i++) {
                types[i] = comps[i].getType();
                String raw = parts[i + 1];
                String v = raw.equals(NULL) ? null : dec(raw);
                args[i] = v == null ? null
                        : types[i] == Path.class ? Path.of(v)
                        : types[i] == boolean.class ? Boolean.parseBoolean(v)
                        : v;
                if (v == null && types[i] == boolean.class) {
                    args[i] = false;
                }
            }
            try {
                Constructor<?> ctor = k.getDeclaredConstructor(types);
                return (Step) ctor.newInstance(args);
            } catch (ReflectiveOperationException e) {
                break;
            }
        }
        throw new ManagerException(file + ": line " + lineNo + ": unknown step '" + parts[0] + "'");
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
