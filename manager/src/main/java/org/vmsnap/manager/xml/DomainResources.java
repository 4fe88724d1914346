package org.vmsnap.manager.xml;

import org.vmsnap.manager.InvalidInputException;

/**
 * What a domain asks of the host, read as libvirt reads it: memory in KiB after unit
 * conversion (current memory defaults to, and is capped at, the maximum), vCPUs (1 when absent;
 * {@code current=} defaults to the maximum), and direct kernel boot (null when absent).
 */
record DomainResources(long memoryKiB, long currentMemoryKiB, int vcpus, int currentVcpus, String kernel,
        String initrd, String cmdline) {

    /** libvirt's limit on vCPUs of any domain (QEMU's own limit is lower and per machine type). */
    static final int MAX_VCPUS = 16384;

    static DomainResources read(XmlElement root, String domain) throws InvalidInputException {
        String where = "domain " + domain;
        long memory = memory(root, where);
        XmlElement cur = root.child("currentMemory");
        long current = cur == null ? memory
                : Math.min(memory, ScaledValue.kib(where + ": <currentMemory>", cur.text(), cur.attr("unit")));
        XmlElement vcpu = root.child("vcpu");
        int vcpus = vcpu == null ? 1 : count(where + ": <vcpu>", vcpu.text());
        int currentVcpus = vcpu == null || vcpu.attr("current") == null ? vcpus
                : count(where + ": <vcpu current=...>", vcpu.attr("current"));
        if (currentVcpus > vcpus) {
            throw new InvalidInputException(where + ": current vCPUs (" + currentVcpus
                    + ") exceed the maximum (" + vcpus + ")");
        }
        XmlElement os = root.child("os");
        return new DomainResources(memory, current, vcpus, currentVcpus, os == null ? null : text(os, "kernel"),
                os == null ? null : text(os, "initrd"), os == null ? null : text(os, "cmdline"));
    }

    /** {@code <memory>}, or (as libvirt allows) the sum of the NUMA cells when it is absent. */
    private static long memory(XmlElement root, String where) throws InvalidInputException {
        XmlElement m = root.child("memory");
        if (m != null) {
            return ScaledValue.kib(where + ": <memory>", m.text(), m.attr("unit"));
        }
        XmlElement cpu = root.child("cpu");
        XmlElement numa = cpu == null ? null : cpu.child("numa");
        long sum = 0;
        for (XmlElement cell : numa == null ? java.util.List.<XmlElement>of() : numa.children("cell")) {
            sum = Math.addExact(sum, ScaledValue.kib(where + ": <numa><cell memory=...>", cell.attr("memory"),
                    cell.attr("unit")));
        }
        if (sum == 0) {
            throw new InvalidInputException(where
                    + ": memory size must be specified via <memory> or in the <numa> configuration");
        }
        return sum;
    }

    private static int count(String what, String text) throws InvalidInputException {
        String t = text.strip();
        if (t.isEmpty() || t.length() > 9 || !t.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidInputException(what + ": invalid vCPU count '" + text + "'");
        }
        int n = Integer.parseInt(t);
        if (n < 1 || n > MAX_VCPUS) {
            throw new InvalidInputException(what + ": vCPU count " + n + " is not in 1.." + MAX_VCPUS);
        }
        return n;
    }

    /** libvirt keeps the text of kernel, initrd and cmdline as written. */
    private static String text(XmlElement os, String tag) {
        XmlElement e = os.child(tag);
        return e == null ? null : e.text();
    }
}
