package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.DiskTuning;
import org.vmsnap.qmp.hw.DriveAddress;
import org.vmsnap.qmp.hw.Firmware;

/**
 * A disk's {@code -blockdev} nodes and its {@code -device}, and the UEFI pflash drives.
 *
 * <p>Each layer is a {@code file} node and a format node, emitted bottom-up; every format node
 * names its file node and its backing node explicitly, the bottom one {@code "backing": null}
 * (as libvirt does), so QEMU opens no backing file by itself and every node of the chain keeps
 * the caller's name for live snapshots and block jobs. File nodes are {@code auto-read-only}:
 * QEMU opens a backing file read-only and reopens it read-write only while a job writes it.
 */
final class BlockArgs {

    private BlockArgs() {
    }

    static void disk(List<String> cmd, Disk disk, DeviceArgs devices) {
        List<BlockLayer> chain = disk.chain();
        boolean readOnly = disk.readOnly() || disk.media() == Disk.Media.CDROM;
        for (int i = chain.size() - 1; i >= 0; i--) {
            BlockLayer layer = chain.get(i);
            boolean top = i == 0;
            boolean layerReadOnly = readOnly || !top;
            cmd.addAll(List.of("-blockdev", Json.write(fileNode(layer, disk.tuning(), readOnly))));
            ObjectNode format = Json.object()
                    .put("node-name", layer.formatNode())
                    .put("driver", layer.format().driver())
                    .put("read-only", layerReadOnly)
                    .put("file", layer.fileNode());
            tuning(format, disk.tuning());
            if (top && disk.tuning().detectZeroes() != null) {
                format.put("detect-zeroes", qemuName(disk.tuning().detectZeroes()));
            }
            if (layer.format() == BlockLayer.Format.QCOW2) {
                if (i + 1 < chain.size()) {
                    format.put("backing", chain.get(i + 1).formatNode());
                } else {
                    format.putNull("backing");
                }
            }
            cmd.addAll(List.of("-blockdev", Json.write(format)));
        }
        cmd.addAll(List.of("-device", Json.write(device(disk, devices))));
    }

    private static ObjectNode fileNode(BlockLayer layer, DiskTuning tuning, boolean readOnly) {
        ObjectNode file = Json.object()
                .put("node-name", layer.fileNode())
                .put("driver", "file")
                .put("filename", layer.file().toAbsolutePath().toString());
        if (readOnly) {
            file.put("read-only", true);
        } else {
            file.put("auto-read-only", true);
        }
        // QEMU drops the file's page cache whenever it reactivates an image (file-posix's
        // invalidate_cache), which a live checkpoint's cont does after every save: the qcow2
        // reopen that follows then reads its metadata from the disk, in the guest's pause. The
        // drop is for migrations to another host over shared storage; vmsnap's streams stay on
        // this host, whose page cache is coherent.
        file.put("drop-cache", false);
        tuning(file, tuning);
        if (tuning.aio() != null) {
            file.put("aio", qemuName(tuning.aio()));
        }
        return file;
    }

    private static void tuning(ObjectNode node, DiskTuning tuning) {
        if (tuning.discard() != null) {
            node.put("discard", qemuName(tuning.discard()));
        }
        if (tuning.cache() != null) {
            node.putObject("cache").put("direct", tuning.cache().direct).put("no-flush", tuning.cache().noFlush);
        }
    }

    private static ObjectNode device(Disk disk, DeviceArgs devices) {
        boolean cd = disk.media() == Disk.Media.CDROM;
        ObjectNode dev = Json.object();
        DriveAddress a = disk.drive();
        switch (disk.bus()) {
            case VIRTIO -> {
                dev.put("driver", "virtio-blk-pci");
                devices.place(dev, disk.pci());
            }
            case IDE -> dev.put("driver", cd ? "ide-cd" : "ide-hd").put("bus", "ide." + a.bus()).put("unit", a.unit());
            case SATA -> dev.put("driver", cd ? "ide-cd" : "ide-hd").put("bus", devices.sataBus(a));
            case SCSI -> dev.put("driver", cd ? "scsi-cd" : "scsi-hd").put("bus", "scsi" + a.controller() + ".0")
                    .put("channel", 0).put("scsi-id", a.target()).put("lun", a.unit());
            default -> throw new AssertionError(disk.bus());
        }
        if (disk.topNode() != null) {
            dev.put("drive", disk.topNode());
        }
        dev.put("id", disk.id());
        if (disk.bootIndex() != null) {
            dev.put("bootindex", disk.bootIndex());
        }
        if (disk.tuning().cache() != null) {
            dev.put("write-cache", QemuCommandLine.onOff(disk.tuning().cache().writeCache));
        }
        if (disk.serial() != null) {
            dev.put("serial", disk.serial());
        }
        return dev;
    }

    /** UEFI: the code read-only in pflash 0, the VM's variable store writable in pflash 1. */
    static void firmware(List<String> cmd, Firmware firmware) {
        if (!(firmware instanceof Firmware.Uefi uefi)) {
            return;
        }
        pflash(cmd, "pflash0", uefi.code(), true);
        pflash(cmd, "pflash1", uefi.vars(), false);
    }

    private static void pflash(List<String> cmd, String name, java.nio.file.Path file, boolean readOnly) {
        cmd.addAll(List.of("-blockdev", Json.write(Json.object().put("node-name", name + "-storage")
                .put("driver", "file").put("filename", file.toAbsolutePath().toString()).put("read-only", readOnly))));
        cmd.addAll(List.of("-blockdev", Json.write(Json.object().put("node-name", name + "-format")
                .put("driver", "raw").put("read-only", readOnly).put("file", name + "-storage"))));
    }

    private static String qemuName(Enum<?> value) {
        return value.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
