package org.vmsnap.testkit;

import java.nio.file.Path;

/**
 * One hostile image made by {@link BadImages}: a copy of a valid image with one field broken.
 *
 * @param name                a stable, file-name-safe case name, e.g. {@code "l1-offset-misaligned"}
 * @param file                the broken image (its backing files, if any, sit next to it)
 * @param expectedMessagePart a short lower-case hint of what the engine's error message should
 *                            mention (compare case-insensitively), e.g. {@code "refcount table"}
 */
public record BadImage(String name, Path file, String expectedMessagePart) {

    @Override
    public String toString() {
        return name;
    }
}
