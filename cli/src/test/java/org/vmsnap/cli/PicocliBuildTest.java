package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/**
 * The CLI runs on picocli built from its sources for Java 25 (the picocli module), not on the
 * Central jar, whose Java 5 class files the JVM's AOT cache skips.
 */
class PicocliBuildTest {

    @Test
    void picocliIsTheReleasedVersionInModernClassFiles() throws IOException {
        assertThat(CommandLine.VERSION).isEqualTo("4.7.7");
        for (Class<?> c : new Class<?>[] {CommandLine.class, CommandLine.Model.CommandSpec.class,
                CommandLine.Help.class}) {
            // Class-file major version 69 is Java 25; the Central jar's is 49 (Java 5).
            assertThat(majorVersion(c)).as(c.getName()).isEqualTo(69);
        }
    }

    private static int majorVersion(Class<?> c) throws IOException {
        String resource = c.getName().replace('.', '/') + ".class";
        try (InputStream in = c.getClassLoader().getResourceAsStream(resource);
                DataInputStream data = new DataInputStream(in)) {
            assertThat(data.readInt()).isEqualTo(0xCAFEBABE);
            data.readUnsignedShort(); // minor
            return data.readUnsignedShort();
        }
    }
}
