package org.vmsnap.manager.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotXml;

/**
 * The serve cache of parsed snapshot files: kept while a file is unchanged, never stale after
 * any change (an atomic rewrite, an edit in place of the same size with the old mtime put back,
 * a deletion, a new file), never keeping a damaged or a just-written file.
 */
class SnapshotFileCacheTest {
    @TempDir
    Path home;
    Path folder;

    @BeforeEach
    void folder() throws IOException {
        folder = Files.createDirectories(home.resolve("d").resolve("snapshots"));
        Files.writeString(home.resolve("d").resolve("domain.xml"), "<domain/>");
    }

    private static SnapshotDef snap(String name, String description) {
        return new SnapshotDef(name, description, "shutoff", 1_700_000_000L, null, null, null, List.of(), null);
    }

    private Path write(String name, String description) throws IOException {
        Path f = folder.resolve(name + ".xml");
        Files.writeString(f, SnapshotXml.format(snap(name, description)), StandardCharsets.UTF_8);
        return f;
    }

    /** A new inode, as vmsnap's AtomicFiles writes: a temporary name renamed over the old one. */
    private void rewriteAtomically(String name, String description) throws IOException {
        Path tmp = folder.resolve("." + name + ".xml.tmp");
        Files.writeString(tmp, SnapshotXml.format(snap(name, description)), StandardCharsets.UTF_8);
        Files.move(tmp, folder.resolve(name + ".xml"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static List<String> descriptions(List<SnapshotDef> defs) {
        return defs.stream().sorted(java.util.Comparator.comparing(SnapshotDef::name))
                .map(d -> d.name() + "=" + d.description()).toList();
    }

    /** Past a coarse kernel clock tick, so that the next change gets a later ctime than the last. */
    private static void nextTick() throws InterruptedException {
        Thread.sleep(30);
    }

    @Test
    void anUnchangedFileIsReadFromTheCacheAsTheSameValue() throws Exception {
        write("a", "one");
        write("b", "two");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        List<SnapshotDef> first = store.readSnapshots();
        assertThat(cache.misses()).isEqualTo(2);
        assertThat(cache.size()).isEqualTo(2);
        List<SnapshotDef> second = store.readSnapshots();
        assertThat(cache.hits()).isEqualTo(2);
        assertThat(cache.misses()).isEqualTo(2);
        assertThat(descriptions(second)).containsExactly("a=one", "b=two");
        // the same objects: nothing was read or parsed again
        for (SnapshotDef d : second) {
            assertThat(first).anySatisfy(f -> assertThat(f).isSameAs(d));
        }
        // and equal to what a store without a cache reads
        assertThat(descriptions(new DomainStore(home, "d").readSnapshots())).isEqualTo(descriptions(second));
    }

    @Test
    void anEditInPlaceOfTheSameSizeWithTheOldMtimePutBackIsSeen() throws Exception {
        Path a = write("a", "aaaa");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=aaaa");
        long size = Files.size(a);
        Object inode = Files.getAttribute(a, "unix:ino");
        FileTime mtime = Files.getLastModifiedTime(a);
        nextTick();
        String text = Files.readString(a);
        int at = text.indexOf("aaaa");
        try (FileChannel ch = FileChannel.open(a, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("bbbb".getBytes(StandardCharsets.UTF_8)), at);
        }
        Files.setLastModifiedTime(a, mtime);
        assertThat(Files.size(a)).isEqualTo(size);
        assertThat(Files.getAttribute(a, "unix:ino")).isEqualTo(inode);
        assertThat(Files.getLastModifiedTime(a)).isEqualTo(mtime);
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=bbbb");
        assertThat(cache.hits()).isZero();
    }

    @Test
    void anAtomicRewriteOfTheSameSizeIsSeen() throws Exception {
        write("a", "1111");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        store.readSnapshots();
        rewriteAtomically("a", "2222");
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=2222");
        assertThat(cache.hits()).isZero();
    }

    @Test
    void aDeletedFileDisappearsAndANewOneAppears() throws Exception {
        write("a", "one");
        Path b = write("b", "two");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=one", "b=two");
        Files.delete(b);
        write("c", "three");
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=one", "c=three");
        assertThat(cache.hits()).isEqualTo(1);
        assertThat(cache.size()).isEqualTo(2); // b's entry went with the listing
    }

    @Test
    void aDamagedFileIsReportedOnEveryReadAndNeverKept() throws Exception {
        write("a", "one");
        Path bad = folder.resolve("bad.xml");
        Files.writeString(bad, "<domainsnapshot><name>bad</name>");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        for (int i = 0; i < 2; i++) {
            List<DomainStore.Damaged> damaged = new ArrayList<>();
            assertThat(descriptions(store.readSnapshots(damaged))).containsExactly("a=one");
            assertThat(damaged).extracting(DomainStore.Damaged::file).containsExactly(bad);
            assertThatThrownBy(store::readSnapshots).isInstanceOf(ManagerException.class)
                    .hasMessageStartingWith(bad + ": ");
        }
        assertThat(cache.size()).isEqualTo(1);
    }

    @Test
    void aFileDamagedAfterItWasKeptIsReportedAsDamaged() throws Exception {
        Path a = write("a", "one");
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        store.readSnapshots();
        nextTick();
        Files.writeString(a, "<domainsnapshot><name>a</name>");
        assertThatThrownBy(store::readSnapshots).isInstanceOf(ManagerException.class).hasMessageStartingWith(a + ": ");
    }

    @Test
    void aFileWrittenJustNowIsParsedButNotKept() throws Exception {
        Path a = write("a", "aaaa");
        SnapshotFileCache cache = new SnapshotFileCache(100); // the real racy window
        DomainStore store = new DomainStore(home, "d", cache);
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=aaaa");
        assertThat(cache.size()).isZero();
        // an edit in place within the same clock tick keeps every stamp field: nothing kept, so it is seen
        String text = Files.readString(a);
        try (FileChannel ch = FileChannel.open(a, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("bbbb".getBytes(StandardCharsets.UTF_8)), text.indexOf("aaaa"));
        }
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=bbbb");
        assertThat(cache.hits()).isZero();
    }

    @Test
    void aSymbolicLinkIsNeverKept() throws Exception {
        Path target = home.resolve("elsewhere.xml");
        Files.writeString(target, SnapshotXml.format(snap("l", "one")));
        Files.createSymbolicLink(folder.resolve("l.xml"), target);
        SnapshotFileCache cache = new SnapshotFileCache(100, 0);
        DomainStore store = new DomainStore(home, "d", cache);
        assertThat(descriptions(store.readSnapshots())).containsExactly("l=one");
        assertThat(cache.size()).isZero();
    }

    @Test
    void theBoundDropsTheLeastRecentlyReadFolderAndAFolderLargerThanTheBoundIsNotKept() throws Exception {
        write("a", "one");
        write("b", "two");
        Path other = Files.createDirectories(home.resolve("e").resolve("snapshots"));
        Files.writeString(home.resolve("e").resolve("domain.xml"), "<domain/>");
        Files.writeString(other.resolve("x.xml"), SnapshotXml.format(snap("x", "ex")));
        SnapshotFileCache cache = new SnapshotFileCache(2, 0);
        new DomainStore(home, "d", cache).readSnapshots();
        assertThat(cache.size()).isEqualTo(2);
        assertThat(descriptions(new DomainStore(home, "e", cache).readSnapshots())).containsExactly("x=ex");
        assertThat(cache.size()).isEqualTo(1); // d went to make room for e
        write("c", "three");
        assertThat(descriptions(new DomainStore(home, "d", cache).readSnapshots()))
                .containsExactly("a=one", "b=two", "c=three");
        assertThat(cache.size()).isEqualTo(1); // three files do not fit: e stays, d is read every time
    }

    @Test
    void theCliStoreKeepsNothing() throws Exception {
        write("a", "one");
        DomainStore store = new DomainStore(home, "d");
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=one");
        rewriteAtomically("a", "two");
        assertThat(descriptions(store.readSnapshots())).containsExactly("a=two");
    }
}
