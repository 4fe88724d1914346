package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;
import java.util.List;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;

/** {@code domfsinfo DOMAIN}: the guest's mounted filesystems and the disks under them. */
@Command(name = "domfsinfo", description = "Show the guest's mounted filesystems (as virsh domfsinfo).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domfsinfo vm1"})
public final class DomfsinfoCommand extends LifecycleCommand {

    private String table;

    @Override
    String failedVerb() {
        return "get filesystem information of";
    }

    @Override
    String failure() {
        return "Unable to get filesystem information"; // virsh's words: no domain name
    }

    @Override
    void change(DomainService domains) throws IOException {
        List<DomainService.FsInfo> rows = domains.fsInfo(domain);
        VshTable t = new VshTable("Mountpoint", "Name", "Type", "Target");
        rows.forEach(r -> t.row(r.mountpoint(), r.name(), r.type(), r.targets()));
        table = t.render();
    }

    @Override
    String done() {
        return table.endsWith("\n") ? table.substring(0, table.length() - 1) : table;
    }
}
