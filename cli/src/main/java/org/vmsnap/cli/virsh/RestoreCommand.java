package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.qcow2.ImageWriteback;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code restore FILE [--running|--paused] [--xml FILE] [--bypass-cache]}. */
@Command(name = "restore", description = "Start a domain from a state file of vmsnap save or libvirt's virsh"
        + " save (as virsh restore).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap restore vm1.state", "  vmsnap restore /var/lib/libvirt/qemu/save/vm1.save --paused"})
public final class RestoreCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "FILE", description = "A vmsnap memory file or a libvirt save image.")
    String file;

    @Mixin
    SaveStateOptions state;

    @Option(names = "--bypass-cache", description = "Leave none of the file in the page cache once QEMU has read"
            + " it (virsh reads it with O_DIRECT).")
    boolean bypassCache;

    @Option(names = "--xml", paramLabel = "FILE", description = "Another definition of the same domain to start"
            + " with (same disks).")
    String xml;

    @Override
    int execute() throws IOException {
        String alt = xml == null ? null : readFile(xml);
        Boolean running = state.running();
        try {
            domains().restore(org.vmsnap.cli.Cwd.path(file), running, alt);
            if (bypassCache) {
                ImageWriteback.dropCachedPages(org.vmsnap.cli.Cwd.path(file));
            }
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to restore domain from " + file + ": " + e.getMessage(), e);
        }
        out().print("Domain restored from " + file + "\n");
        return 0;
    }
}
