/**
 * QEMU's machine protocol and guest agent, QEMU processes and their memory streams
 * ({@code org.vmsnap.qmp}), and the machine model QEMU is started from ({@code org.vmsnap.qmp.hw}).
 * Both packages are the manager's API. Replies are Jackson trees ({@code JsonNode}) built with
 * the streaming parser, never bound to classes, so nothing is opened; the trees are part of
 * the API, hence {@code requires transitive}.
 */
module org.vmsnap.qmp {
    requires transitive com.fasterxml.jackson.databind;
    requires com.github.luben.zstd_jni;

    exports org.vmsnap.qmp;
    exports org.vmsnap.qmp.hw;
}
