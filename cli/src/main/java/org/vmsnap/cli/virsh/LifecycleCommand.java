package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Parameters;

/**
 * What the verbs that change a domain's run state share: the DOMAIN argument, virsh's
 * "Failed to VERB domain 'NAME'" before the reason (one line, where virsh prints two), and
 * "failed to get domain" for a name that is not defined.
 */
abstract class LifecycleCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    /** The verb as virsh words its failure: "start", "shutdown", "destroy", ... */
    abstract String failedVerb();

    /** virsh's first error line: "Failed to VERB domain 'NAME'" unless the verb words it otherwise. */
    String failure() {
        return "Failed to " + failedVerb() + " domain '" + domain + "'";
    }

    /** Does the change; the message on success is printed by {@link #execute}. */
    abstract void change(DomainService domains) throws IOException;

    /** What virsh prints on success. */
    abstract String done();

    @Override
    final int execute() throws IOException {
        DomainService domains = domains();
        try {
            change(domains);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        } catch (ManagerException e) {
            throw new CliException(1, failure() + ": " + e.getMessage(), e);
        }
        out().print(done() + "\n");
        return 0;
    }
}
