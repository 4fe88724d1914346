/**
 * The qcow2 engine. Other modules see only {@code org.vmsnap.qcow2} (images, chains, copy,
 * commit, rebase, check, their options and results); the engine's machinery
 * ({@code engine}: metadata caches, allocation, refcounts, the checker; {@code format}: on-disk
 * structures; {@code io}: block stores and image locks) is not exported, so no other module can
 * reach past the API. Compression codecs beyond zlib are found as services (zstd is one).
 */
// "qcow2" is the format's name; javac's advice against a digit at the end does not apply.
@SuppressWarnings("module")
module org.vmsnap.qcow2 {
    exports org.vmsnap.qcow2;

    uses org.vmsnap.qcow2.CompressionCodec;
}
