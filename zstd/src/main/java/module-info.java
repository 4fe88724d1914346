/**
 * zstd compression for qcow2 clusters. Nothing is exported: the engine finds the codec as a
 * {@link org.vmsnap.qcow2.CompressionCodec} service (this declaration on the module path, the
 * META-INF/services file on the class path).
 */
module org.vmsnap.zstd {
    requires org.vmsnap.qcow2;
    requires com.github.luben.zstd_jni;

    provides org.vmsnap.qcow2.CompressionCodec with org.vmsnap.zstd.ZstdClusterCodec;
}
