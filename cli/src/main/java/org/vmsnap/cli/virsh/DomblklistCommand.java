package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SafeXml;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code domblklist DOMAIN [--details]}: every {@code <disk>} of the definition, as virsh lists them. */
@Command(name = "domblklist", description = "List the block devices of a domain (as virsh domblklist).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domblklist vm1 --details"})
public final class DomblklistCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Option(names = "--details", description = "Add the disk type and device columns.")
    boolean details;

    @Option(names = "--inactive", description = "The persistent definition (the only one of a shut-off domain).")
    boolean inactive;

    @Override
    int execute() throws IOException {
        out().print(render(snapshots(domain).domain(), details));
        return 0;
    }

    /** The table; a disk without a source shows "-", as in virsh. */
    static String render(Domain d, boolean details) throws InvalidInputException {
        VshTable t = details ? new VshTable("Type", "Device", "Target", "Source") : new VshTable("Target", "Source");
        Element root = SafeXml.parse(d.toXml(), "domain XML").getDocumentElement();
        for (Element devices : children(root, "devices")) {
            for (Element disk : children(devices, "disk")) {
                String target = "";
                String source = "-";
                for (Element e : children(disk, "target")) {
                    target = e.getAttribute("dev");
                }
                for (Element e : children(disk, "source")) {
                    for (String a : new String[] {"file", "dev", "dir", "name", "volume"}) {
                        if (e.hasAttribute(a)) {
                            source = e.getAttribute(a);
                            break;
                        }
                    }
                    if (e.hasAttribute("pool") && e.hasAttribute("volume")) {
                        source = e.getAttribute("pool") + "/" + e.getAttribute("volume");
                    }
                }
                if (details) {
                    String device = disk.hasAttribute("device") ? disk.getAttribute("device") : "disk";
                    t.row(disk.getAttribute("type"), device, target, source);
                } else {
                    t.row(target, source);
                }
            }
        }
        return t.render();
    }

    private static java.util.List<Element> children(Element parent, String tag) {
        java.util.List<Element> out = new java.util.ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                out.add(e);
            }
        }
        return out;
    }
}
