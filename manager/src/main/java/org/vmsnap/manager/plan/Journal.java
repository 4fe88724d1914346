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
 * step  &lt;Kind&gt; &lt;field&gt; ...      (fields by type: see {@link #encodeField}; ~ for null)
 * done  &lt;N&gt;
 * </pre>
 */
public final class Journal {
    private static final String MAGIC = "vmsnap-journal 1";
    private static final String NULL = "~";
    private static final String EMPTY_LIST = "[]";

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
            b.append(' ').append(encodeField(c.getType(), v));
        }
        return b.toString();
    }

    /**
     * One field, by its declared type: text and paths url-encoded, booleans and numbers in
     * decimal, a list of texts as its url-encoded items joined by commas (an empty list is "[]"),
     * null as "~". Only these types may appear in a step (checked by {@link #checkEncodable}).
     */
    private static String encodeField(Class<?> type, Object v) {
        if (v == null) {
            return NULL;
        }
        if (type == List.class) {
            List<?> items = (List<?>) v;
            if (items.isEmpty()) {
                return EMPTY_LIST;
            }
            StringBuilder b = new StringBuilder();
            for (Object item : items) {
                if (!b.isEmpty()) {
                    b.append(',');
                }
                b.append(enc(String.valueOf(item)));
            }
            return b.toString();
        }
        return enc(v.toString());
    }

    private static Object decodeField(Class<?> type, String raw) {
        if (raw.equals(NULL)) {
            // (not one conditional expression: its numeric promotion would unbox the null)
            if (type == boolean.class) {
                return Boolean.FALSE;
            }
            if (type == int.class) {
                return Integer.valueOf(0);
            }
            if (type == long.class) {
                return Long.valueOf(0);
            }
            return null;
        }
        if (type == List.class) {
            if (raw.equals(EMPTY_LIST)) {
                return List.of();
            }
            List<String> out = new ArrayList<>();
            for (String item : raw.split(",", -1)) {
                out.add(dec(item));
            }
            return List.copyOf(out);
        }
        String v = dec(raw);
        if (type == String.class) {
            return v;
        }
        if (type == Path.class) {
            return Path.of(v);
        }
        if (type == boolean.class) {
            return Boolean.parseBoolean(v);
        }
        if (type == int.class) {
            return Integer.parseInt(v);
        }
        if (type == long.class) {
            return Long.parseLong(v);
        }
        throw new IllegalStateException("no journal encoding for " + type);
    }

    /** The types a step's fields may have; a step with another type fails here, in every test. */
    static void checkEncodable(Class<?> stepClass) {
        for (RecordComponent c : stepClass.getRecordComponents()) {
            Class<?> t = c.getType();
            boolean ok = t == String.class || t == Path.class || t == boolean.class || t == int.class
                    || t == long.class || t == List.class && c.getGenericType().getTypeName().equals(
                    "java.util.List<java.lang.String>");
            if (!ok) {
                throw new IllegalStateException(stepClass.getSimpleName() + "." + c.getName()
                        + ": no journal encoding for " + c.getGenericType());
            }
        }
    }

    private Step decode(String text, int lineNo) throws ManagerException {
        String[] parts = text.split(" ", -1);
        for (Class<?> k : Step.class.getPermittedSubclasses()) {
            if (!k.getSimpleName().equals(parts[0])) {
                continue;
            }
            RecordComponent[] comps = k.getRecordComponents();
            // A journal of an older vmsnap lacks fields added to a step since: they read as null.
            if (comps.length < parts.length - 1) {
                break;
            }
            Object[] args = new Object[comps.length];
            Class<?>[] types = new Class<?>[comps.length];
            try {
                for (int i = 0; i < comps.length; i++) {
                    types[i] = comps[i].getType();
                    if (i + 1 >= parts.length && types[i].isPrimitive()) {
                        throw new IllegalArgumentException("missing field " + comps[i].getName());
                    }
                    args[i] = i + 1 < parts.length ? decodeField(types[i], parts[i + 1]) : null;
                }
                Constructor<?> ctor = k.getDeclaredConstructor(types);
                return (Step) ctor.newInstance(args);
            } catch (ReflectiveOperationException | RuntimeException e) {
                break;
            }
        }
        throw new ManagerException(file + ": line " + lineNo + ": unknown or damaged step '" + parts[0] + "'");
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
