package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuIoHolder;
import org.vmsnap.testkit.TestGuest;

/**
 * The lifecycle verbs on the real test guest under QEMU, through vmsnap's command line, with
 * virsh 9.0's messages: start, domstate --reason, domid, dominfo, list, suspend, resume,
 * domfs*, reboot, shutdown (ACPI and agent), destroy, a QEMU that dies on its own, and the
 * refusals (undefine while running, a disk another process holds).
 */
class LifecycleIT {
    @TempDir
    Path dir;

    @Test
    void aDomainRunsPausesRebootsAndStopsAsVirshSaysItDoes() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "g", 1)) {
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("shut off (unknown)\n\n");
            assertThat(ok("domid", "g")).isEqualTo("-\n\n");
            d.startAndAwaitReady();
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("running (booted)\n\n");
            String id = ok("domid", "g").strip();
            assertThat(id).matches("[1-9][0-9]*");
            assertThat(ok("list")).isEqualTo(" Id   Name   State\n----------------------\n " + id + "    g      running\n\n");
            assertThat(ok("dominfo", "g")).contains("Id:             " + id + "\n").contains("State:          running\n")
                    .contains("Max memory:     262144 KiB\n").containsPattern("CPU time:       [0-9]+\\.[0-9]s\n");
            assertThat(fails("start", "g")).isEqualTo("vmsnap: Domain is already active"); // virsh's own check
            assertThat(fails("undefine", "g")).contains("running").contains("destroy it or shut it down first");

            assertThat(ok("suspend", "g")).isEqualTo("Domain 'g' suspended\n\n");
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("paused (user)\n\n");
            assertThat(ok("list", "--state-paused", "--name")).isEqualTo("g\n\n");
            assertThat(ok("list", "--state-running", "--name")).isEqualTo("\n");
            long before = d.logSize();
            assertThat(ok("resume", "g")).isEqualTo("Domain 'g' resumed\n\n");
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("running (unpaused)\n\n");
            d.awaitSerial(before, "COUNTER");

            assertThat(ok("domfsinfo", "g")).isEqualTo(" Mountpoint   Name   Type   Target\n"
                    + "------------------------------------\n /data        vda    ext4   vda\n\n");
            assertThat(ok("domfsfreeze", "g")).isEqualTo("Froze 1 filesystem(s)\n\n");
            assertThat(ok("domfsthaw", "g")).isEqualTo("Thawed 1 filesystem(s)\n\n");

            // Reboot through the agent: the guest boots again (a new boot id on its console).
            String bootBefore = d.bootId();
            long beforeReboot = d.logSize();
            assertThat(ok("reboot", "g")).isEqualTo("Domain 'g' is being rebooted\n\n");
            assertThat(d.awaitBoot(beforeReboot)).isNotEqualTo(bootBefore);
            assertThat(TestGuest.readFrom(d.serialLog(), beforeReboot)).contains("vmsnap-guest: agent reboot");
            assertThat(ok("domid", "g").strip()).as("same QEMU, same Id").isEqualTo(id);

            assertThat(ok("shutdown", "g", "--mode", "agent")).isEqualTo("Domain 'g' is being shutdown\n\n");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            assertThat(ok("list", "--all")).contains(" -    g      shut off\n");
            TestGuest.Records records = d.records(d.disks.getFirst());
            assertThat(records.invalid()).isEmpty();
            assertThat(records.valid()).isNotEmpty();

            d.startAndAwaitReady();
            assertThat(ok("domid", "g").strip()).as("a new start, a new Id").isNotEqualTo(id);
            // The ACPI reboot: the power button, QEMU holds the powered-off guest, then resets it.
            String bootBeforeAcpi = d.bootId();
            long beforeAcpi = d.logSize();
            assertThat(ok("reboot", "g", "--mode", "acpi")).isEqualTo("Domain 'g' is being rebooted\n\n");
            assertThat(d.awaitBoot(beforeAcpi)).isNotEqualTo(bootBeforeAcpi);
            assertThat(TestGuest.readFrom(d.serialLog(), beforeAcpi)).contains("vmsnap-guest: power button");
            assertThat(ok("domstate", "g", "--reason")).startsWith("running (");
            assertThat(ok("shutdown", "g", "--mode", "acpi")).isEqualTo("Domain 'g' is being shutdown\n\n");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));

            assertThat(ok("start", "g", "--paused")).isEqualTo("Domain 'g' started\n\n");
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("paused (user)\n\n");
            assertThat(ok("destroy", "g")).isEqualTo("Domain 'g' destroyed\n\n");
            assertThat(ok("domstate", "g", "--reason")).isEqualTo("shut off (destroyed)\n\n");
            assertThat(fails("destroy", "g")).isEqualTo(
                    "vmsnap: Failed to destroy domain 'g': Requested operation is not valid: domain is not running");
            assertThat(fails("suspend", "g")).contains("domain is not running");

            // A QEMU that dies on its own is noticed by the next command, as libvirt would report it.
            assertThat(ok("start", "g")).isEqualTo("Domain 'g' started\n\n");
            ProcessHandle.of(d.pid()).orElseThrow().destroyForcibly();
            d.awaitState("shut off (crashed)", Duration.ofSeconds(30));
            assertThat(ok("list", "--all")).contains(" -    g      shut off\n");
        }
    }

    @Test
    void aDiskAnotherProcessHoldsStopsTheStartBeforeQemuRuns() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "h", 1)) {
            try (QemuIoHolder holder = new QemuIoHolder(d.disks.getFirst(), "qcow2")) {
                String err = fails("start", "h");
                assertThat(err).startsWith("vmsnap: Failed to start domain 'h': disk vda: ")
                        .contains(d.disks.getFirst().toString()).contains("lock");
                assertThat(ok("domstate", "h")).isEqualTo("shut off\n\n");
                assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
            }
            // QEMU unlinks whatever sits at a socket path before binding it: a user's file there is refused.
            Path notes = java.nio.file.Files.writeString(dir.resolve("notes.txt"), "the user's notes\n");
            Path xml = dir.resolve("h2.xml");
            java.nio.file.Files.writeString(xml, TestGuest.get().domainXml("h2", List.of(d.disks.getFirst()),
                    dir.resolve("h2.log")).replace("<target type='virtio' name='org.qemu.guest_agent.0'/>",
                    "<source mode='bind' path='" + notes + "'/>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>"));
            ok("define", xml.toString());
            assertThat(fails("start", "h2")).contains(notes.toString()).contains("not a socket");
            assertThat(notes).hasContent("the user's notes\n");
            ok("undefine", "h2");

            d.startAndAwaitReady();
            assertThat(ok("destroy", "h")).isEqualTo("Domain 'h' destroyed\n\n");
            assertThat(ok("undefine", "h")).isEqualTo("Domain 'h' has been undefined\n\n");
            assertThat(List.of(dir.resolve("home").toFile().list())).as("nothing of the domain is left")
                    .allMatch(n -> n.startsWith(".next-id"));
        }
    }
}
