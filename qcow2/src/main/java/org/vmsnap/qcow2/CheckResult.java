package org.vmsnap.qcow2;

import java.util.List;

/**
 * Findings of a consistency check, in {@code qemu-img check}'s terms.
 *
 * @param corruptions          refcount errors and other corruptions still present after any repair
 * @param leaks                clusters with a refcount but no reference, still present after any repair
 * @param checkErrors          internal errors that stopped parts of the check
 * @param corruptionsFixed     corruptions repaired
 * @param leaksFixed           leaks repaired
 * @param imageEndOffsetBytes  end of the last used cluster in the file
 * @param totalClusters        guest clusters (virtual size / cluster size, rounded up)
 * @param allocatedClusters    guest clusters allocated in this image
 * @param fragmentedClusters   allocated clusters not right after the previous one
 * @param compressedClusters   compressed clusters
 * @param messages             lines as qemu-img prints them ("ERROR cluster 5 refcount=0 reference=1", "Leaked cluster ...")
 * @param failed               the check stopped early (qemu-img then prints only the messages and
 *                             "Check failed"); the counts are what was found until then
 */
public record CheckResult(long corruptions, long leaks, long checkErrors, long corruptionsFixed,
                          long leaksFixed, long imageEndOffsetBytes, long totalClusters,
                          long allocatedClusters, long fragmentedClusters, long compressedClusters,
                          List<String> messages, boolean failed) {

    public CheckResult {
        messages = List.copyOf(messages);
    }

    /** qemu-img check's exit code: 0 clean, 1 check failed, 2 corruptions, 3 leaks only. */
    public int exitCode() {
        if (failed || checkErrors > 0) {
            return 1;
        }
        if (corruptions > 0) {
            return 2;
        }
        return leaks > 0 ? 3 : 0;
    }
}
