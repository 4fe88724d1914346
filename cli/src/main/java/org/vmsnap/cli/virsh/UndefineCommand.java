package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code undefine DOMAIN [--snapshots-metadata] [--remove-all-storage]}: refuses while the
 * domain has snapshots unless their metadata may go too; removes images only when asked.
 */
@Command(name = "undefine", description = "Undefine a domain (as virsh undefine).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap undefine vm1 --snapshots-metadata"})
public final class UndefineCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Option(names = "--snapshots-metadata", description = "Remove the snapshot metadata too (the images stay).")
    boolean snapshotsMetadata;

    @Option(names = "--remove-all-storage", description = "Remove the disk images vmsnap manages for the domain.")
    boolean removeAllStorage;

    @Override
    int execute() throws IOException {
        Domain d = snapshots(domain).domain();
        List<Path> removed;
        try {
            removed = domains().undefine(domain, snapshotsMetadata, removeAllStorage);
        } catch (InvalidInputException e) {
            // virsh says this on two lines; vmsnap's errors are one.
            throw new CliException(1, "Failed to undefine domain '" + domain + "': " + e.getMessage(), e);
        }
        out().print("Domain '" + domain + "' has been undefined\n");
        for (Path p : removed) {
            String volume = d.disks().stream().filter(x -> x.source().equals(p)).map(DiskDef::target).findFirst()
                    .orElse(String.valueOf(p.getFileName()));
            out().print("Volume '" + volume + "'(" + p + ") removed.\n");
        }
        return 0;
    }
}
