package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotService;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every virsh verb shares: its output stream, the domain service under
 * {@code $VMSNAP_HOME}, and virsh's habit of ending each command's output with a newline
 * (so "Domain snapshot s1 created" is one line, and a table is followed by an empty line).
 */
abstract class VirshSubcommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    @Override
    public final Integer call() throws IOException {
        try {
            return execute();
        } finally {
            // virsh prints this after every command, failed or not.
            out().print('\n');
            out().flush();
        }
    }

    /** Runs the command; output goes to {@link #out()}. */
    abstract int execute() throws IOException;

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /**
     * The domains under {@link DomainService#defaultHome()} ({@code vmsnap.home}, then
     * {@code $VMSNAP_HOME}); what the manager wants the user to know beyond the result (a file
     * kept because another process holds it, an interrupted operation finished) goes to stderr.
     */
    DomainService domains() {
        PrintWriter err = err();
        return new DomainService(DomainService.defaultHome(), line -> {
            err.println("vmsnap: " + line);
            err.flush();
        });
    }

    /** The snapshot service of a domain; a missing domain is virsh's "failed to get domain". */
    SnapshotService snapshots(String domain) throws IOException {
        try {
            return domains().snapshots(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        }
    }

    /** A file the user named, read as virsh reads it (its messages when it cannot). */
    static String readFile(String file) {
        Path p = org.vmsnap.cli.Cwd.path(file);
        try {
            if (Files.isDirectory(p)) {
                throw new CliException("Failed to read file '" + file + "': Is a directory");
            }
            return Files.readString(p);
        } catch (NoSuchFileException e) {
            throw new CliException(1, "Failed to open file '" + file + "': No such file or directory", e);
        } catch (AccessDeniedException e) {
            throw new CliException(1, "Failed to open file '" + file + "': Permission denied", e);
        } catch (IOException e) {
            throw new CliException(1, "Failed to read file '" + file + "': " + e.getMessage(), e);
        }
    }
}
