package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.Domain;

/** list and domblklist against virsh 9.0 for the fixture domain (domain.xml defined on the test driver). */
class DomainTablesTest {

    private static Domain domain() throws InvalidInputException {
        return Domain.parse(Fixtures.read("domain.xml"));
    }

    private static ListCommand.Row shutOff() throws InvalidInputException {
        return new ListCommand.Row(domain(), new DomainStatus(DomainStatus.State.SHUTOFF, "unknown", -1));
    }

    @Test
    void listAllLikeVirsh() throws InvalidInputException {
        assertThat(ListCommand.render(List.of(shutOff()), false) + "\n").isEqualTo(Fixtures.read("domain/list_all.out"));
        assertThat(ListCommand.render(List.of(shutOff()), true) + "\n")
                .isEqualTo(Fixtures.read("domain/list_all_name.out"));
        assertThat(ListCommand.render(List.of(), false) + "\n").as("nothing runs").isEqualTo(
                Fixtures.read("domain/list.out"));
        ListCommand.Row running = new ListCommand.Row(domain(), new DomainStatus(DomainStatus.State.RUNNING, "booted", 2));
        assertThat(ListCommand.render(List.of(running), false) + "\n").isEqualTo(
                Fixtures.read("domain/list_running.out"));
    }

    @Test
    void domblklistLikeVirsh() throws InvalidInputException {
        assertThat(DomblklistCommand.render(domain(), false) + "\n")
                .isEqualTo(Fixtures.read("domain/domblklist_vm2.out"));
        assertThat(DomblklistCommand.render(domain(), true) + "\n")
                .isEqualTo(Fixtures.read("domain/domblklist_vm2_details.out"));
    }
}
