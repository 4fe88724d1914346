package org.vmsnap.qmp.hw;

import java.util.regex.Pattern;

/**
 * The CPU model the guest sees.
 *
 * <ul>
 *   <li>{@link Mode#AUTO}: {@code host} (passthrough) under KVM; under TCG {@code max}, every
 *       feature TCG emulates (so guests built for x86-64-v2, which {@code qemu64} lacks, still
 *       boot); {@code max} depends only on the QEMU binary, not on the host CPU, so a memory
 *       snapshot restores on another host with the same QEMU;</li>
 *   <li>{@link Mode#MAX}: {@code max} under either accelerator;</li>
 *   <li>{@link Mode#NAMED}: a QEMU model by name ({@code qemu64}, {@code Skylake-Client}, ...).</li>
 * </ul>
 */
public record Cpu(Mode mode, String model) {

    private static final Pattern MODEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    public static final Cpu AUTO = new Cpu(Mode.AUTO, null);

    public enum Mode { AUTO, MAX, NAMED }

    public Cpu {
        if (mode == Mode.NAMED ? model == null || !MODEL.matcher(model).matches() : model != null) {
            throw new IllegalArgumentException("a named CPU needs a model matching " + MODEL + ", others none: " + model);
        }
    }

    public static Cpu named(String model) {
        return new Cpu(Mode.NAMED, model);
    }

    /** QEMU's {@code -cpu} value. */
    public String qemuModel(boolean kvm) {
        return switch (mode) {
            case AUTO -> kvm ? "host" : "max";
            case MAX -> "max";
            case NAMED -> model;
        };
    }
}
