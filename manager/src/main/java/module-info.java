/**
 * The snapshot manager. Exported: {@code org.vmsnap.manager} (DomainService, SnapshotService,
 * the snapshot tree, flags, progress and the manager's exceptions) and {@code org.vmsnap.manager.xml}
 * (libvirt's domain and snapshot XML, which the CLI and the server read and print). Not
 * exported: the machinery ({@code plan}: journaled plans and their runner; {@code store}: the
 * state folder, locks and atomic files; {@code live}: running domains through QEMU). SafeXml
 * hands out DOM documents, hence {@code requires transitive java.xml}.
 */
module org.vmsnap.manager {
    requires org.vmsnap.qcow2;
    requires org.vmsnap.qmp;
    requires com.fasterxml.jackson.databind;
    requires transitive java.xml;

    exports org.vmsnap.manager;
    exports org.vmsnap.manager.xml;
}
