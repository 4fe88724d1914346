/**
 * Test support (qemu-img and qemu-io drivers, reference disks, the test guest, a private
 * libvirtd). Tests of every module use it; the CLI's demo uses TestGuest.
 * qemu-img's JSON comes back as Jackson trees, hence {@code requires transitive}.
 */
module org.vmsnap.testkit {
    requires transitive com.fasterxml.jackson.databind;

    exports org.vmsnap.testkit;
}
