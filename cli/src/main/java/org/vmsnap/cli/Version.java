package org.vmsnap.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code vmsnap --version} and {@code vmsnap img --version}: "vmsnap version 0.1.0", "vmsnap img
 * version 0.1.0", in the style of "qemu-img version 7.2.22"; the project version is filtered
 * into a resource at build time.
 */
public final class Version implements IVersionProvider {

    @Spec
    CommandSpec spec;

    @Override
    public String[] getVersion() throws IOException {
        return new String[] {(spec == null ? "vmsnap" : spec.qualifiedName(" ")) + " version " + number()};
    }

    /** The project version, or "unknown" outside a built jar. */
    public static String number() throws IOException {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        }
        return p.getProperty("version", "unknown");
    }
}
