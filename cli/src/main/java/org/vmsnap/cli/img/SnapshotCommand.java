package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.Path;
import java.time.ZoneId;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.cli.format.QemuJson;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;
import org.vmsnap.qcow2.SnapshotNotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img snapshot [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename}:
 * qemu-img's internal snapshot verbs with its lookups ({@code -a} by id, else by name;
 * {@code -d} by name) and messages. Differences, on purpose: a duplicate name is refused
 * (qemu-img accepts it, and {@code -a} then picks one of the two), and {@code -l} also has
 * {@code --output=json} (the snapshot objects of {@code qemu-img info --output=json}).
 */
@Command(name = "snapshot", description = "List, create, apply or delete internal snapshots (as qemu-img snapshot).",
        customSynopsis = {"vmsnap img snapshot [-U] [-q] [-l | -a snapshot | -c snapshot |",
                "                           -d snapshot] [--output=ofmt] filename"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img snapshot -c before-upgrade disk.qcow2",
                "  vmsnap img snapshot -l disk.qcow2",
                "  vmsnap img snapshot -a before-upgrade disk.qcow2",
                "  vmsnap img snapshot -c -x disk.qcow2         # a name may start with '-'"})
final class SnapshotCommand extends ImgSubcommand {

    @Option(names = "-l", description = "List the snapshots.")
    boolean list;

    @Option(names = "-c", paramLabel = "snapshot", description = "Create a snapshot of the disk as it is now.")
    String create;

    @Option(names = "-a", paramLabel = "snapshot",
            description = "Apply a snapshot (by id, else by name): the disk reverts to it.")
    String apply;

    @Option(names = "-d", paramLabel = "snapshot", description = "Delete the snapshot with this name.")
    String delete;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use); -l only.")
    boolean forceShare;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Option(names = "--output", paramLabel = "human|json", defaultValue = "human", description = "Format of -l.")
    String output;

    @Parameters(paramLabel = "filename")
    String file;

    @Override
    public Integer call() throws IOException {
        boolean json = isJson(output);
        int actions = (list ? 1 : 0) + (create != null ? 1 : 0) + (apply != null ? 1 : 0) + (delete != null ? 1 : 0);
        if (actions > 1) {
            throw new CliException("Cannot mix '-l', '-a', '-c', '-d'");
        }
        Path path = path(file);
        boolean writes = actions == 1 && !list;
        if (writes && forceShare) {
            throw new CliException("Could not open '" + file + "': force-share=on can only be used with read-only images");
        }
        String format = Images.probeFormat(path);
        if (!format.equals("qcow2")) {
            // raw has no snapshots: the list is empty, and changes are not supported (as qemu-img).
            if (writes) {
                String verb = create != null ? "create" : apply != null ? "apply" : "delete";
                throw new CliException("Could not " + verb + " snapshot '" + (create != null ? create
                        : apply != null ? apply : delete) + "': " + format + " images have no internal snapshots"
                        + " (Operation not supported)");
            }
            if (list && json) {
                out().println("[]");
            }
            return 0;
        }
        OpenOptions options = new OpenOptions(!writes, forceShare, false, "qcow2");
        try (Qcow2Image img = Qcow2Image.open(path, options)) {
            if (list) {
                print(img.snapshots(), json);
            } else if (create != null) {
                run("create", create, () -> img.createSnapshot(create));
            } else if (apply != null) {
                run("apply", apply, () -> img.applySnapshot(apply));
            } else if (delete != null) {
                // qemu-img -d looks up by name only (bdrv_snapshot_find); delete that one by its id.
                SnapshotInfo s = img.snapshots().stream().filter(x -> x.name().equals(delete)).findFirst()
                        .orElseThrow(() -> new CliException("Could not delete snapshot '" + delete
                                + "': snapshot not found"));
                run("delete", delete, () -> img.deleteSnapshot(s.id()));
            }
        }
        return 0;
    }

    private interface Action {
        void run() throws IOException;
    }

    /** qemu-img's "Could not VERB snapshot 'NAME': reason" for any failure of the action. */
    private static void run(String verb, String name, Action action) {
        try {
            action.run();
        } catch (SnapshotNotFoundException e) {
            throw new CliException(1, "Could not " + verb + " snapshot '" + name + "': no snapshot with this id or name"
                    + " in " + e.file(), e);
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            throw new CliException(1, "Could not " + verb + " snapshot '" + name + "': " + e.getMessage(), e);
        }
    }

    private void print(List<SnapshotInfo> snapshots, boolean json) {
        if (json) {
            out().println(QemuJson.toPrettyString(snapshots.stream().map(InfoFormat::json).toList()));
            return;
        }
        if (snapshots.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder("Snapshot list:\n").append(InfoFormat.snapshotHeader()).append('\n');
        for (SnapshotInfo s : snapshots) {
            sb.append(InfoFormat.snapshotRow(s, ZoneId.systemDefault())).append('\n');
        }
        out().print(sb);
    }
}
