/**
 * The vmsnap command line. It exports nothing: it is the application. picocli reads the
 * commands' annotated (private) fields by reflection, so the command packages are opened to
 * picocli only. zstd is not required: it is a service the qcow2 engine finds.
 */
module org.vmsnap.cli {
    requires org.vmsnap.qcow2;
    requires org.vmsnap.manager;
    requires org.vmsnap.server;
    requires org.vmsnap.testkit;
    requires info.picocli;
    requires java.xml;
    requires jdk.net;

    opens org.vmsnap.cli to info.picocli;
    opens org.vmsnap.cli.img to info.picocli;
    opens org.vmsnap.cli.virsh to info.picocli;
}
