package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher script (./vmsnap) on a copy of itself in a small fake tree, with a stand-in JDK
 * whose java writes its arguments to a log and a stand-in mvn that logs and touches the jar:
 * it rebuilds when an input of the jar changed (a main source edited, added or removed, a pom)
 * and only then, trains the AOT cache after a build, and names the jar by one spelling however
 * it is started (the AOT cache is tied to that path).
 */
class LauncherTest {
    @TempDir
    Path tmp;

    private Path root;
    private Path log;
    private Path jar;
    private Path source;
    private final Instant now = Instant.now();

    @BeforeEach
    void tree() throws IOException {
        root = tmp.resolve("tree");
        Path repo = Path.of("").toAbsolutePath().getParent(); // surefire runs in cli/
        copyExecutable(repo.resolve("vmsnap"), root.resolve("vmsnap"));
        copyExecutable(repo.resolve("scripts/env.sh"), root.resolve("scripts/env.sh"));
        log = tmp.resolve("log");
        Files.createFile(log);
        script(tmp.resolve("jdk/bin/java"), """
                #!/bin/sh
                for a; do case $a in -XX:AOTCacheOutput=*) echo cache > "${a#-XX:AOTCacheOutput=}" ;; esac; done
                echo "java $*" >> "$LAUNCHER_LOG"
                case "$*" in *" org.vmsnap.cli.daemon.Forward "*) exit "${FORWARD_RC:-0}" ;; esac
                case "$*" in *" daemon "*)
                  date +%s%N > "$DAEMON_LOG.started"
                  set -- $(cat /proc/$$/stat)
                  echo "daemon cwd=$(pwd) home=$VMSNAP_HOME session-leader=$([ "$6" = $$ ] && echo yes || echo no)" \
                    >> "$DAEMON_LOG" ;;
                *" domstate slow") sleep 1; date +%s%N > "$DAEMON_LOG.slow-ended" ;;
                esac
                """);
        script(tmp.resolve("jdk/bin/javac"), "#!/bin/sh\n");
        Files.writeString(tmp.resolve("jdk/release"), "IMPLEMENTOR=\"test\"\nJAVA_VERSION=\"25.0.3\"\n");
        script(tmp.resolve("bin/mvn"), """
                #!/bin/sh
                echo "mvn $*" >> "$LAUNCHER_LOG"
                touch cli/target/vmsnap.jar
                """);
        source = write("cli/src/main/java/A.java", -300);
        write("cli/src/test/java/ATest.java", -300);
        write("cli/src/main/resources/r.properties", -300);
        write("pom.xml", -300);
        write("cli/pom.xml", -300);
        write("bench/B.java", -300);
        for (String dir : List.of("cli/src/main/java", "cli/src/main/resources", "cli/src/main", "cli/src",
                "cli/src/test/java", "cli/src/test", "cli", "bench", "")) {
            Files.setLastModifiedTime(root.resolve(dir), at(-300));
        }
        jar = write("cli/target/vmsnap.jar", -200);
        write("cli/target/vmsnap.aot", -100);
    }

    @Test
    void anUpToDateJarRunsWithoutABuild() throws Exception {
        List<String> lines = run(root, "./vmsnap", "--version");
        assertThat(lines).hasSize(1);
        assertThat(lines.getFirst()).startsWith("java ")
                .contains("-XX:AOTCache=" + root.resolve("cli/target/vmsnap.aot"), "-XX:TieredStopAtLevel=1")
                .endsWith("-jar " + jar + " --version");
    }

    @Test
    void anEditedMainSourceRebuildsAndRetrains() throws Exception {
        Files.setLastModifiedTime(source, at(-10));
        List<String> lines = run(root, "./vmsnap", "img", "convert", "a", "b");
        assertThat(lines).hasSize(6);
        assertThat(lines.get(0)).startsWith("mvn ").contains("-pl cli -am package");
        assertTrainings(lines.subList(1, 5));
        // A data verb gets the full cache, and C1 only (its copies are system calls and memcpy).
        assertThat(lines.get(5)).endsWith("-jar " + jar + " img convert a b").contains("-XX:TieredStopAtLevel=1")
                .contains("-XX:AOTCache=" + root.resolve("cli/target/vmsnap.aot") + " ");
        // Built once: the next run finds the jar up to date.
        assertThat(run(root, "./vmsnap", "--version")).hasSize(7);
    }

    @Test
    void aPomOrAResourceRebuilds() throws Exception {
        Files.setLastModifiedTime(root.resolve("cli/pom.xml"), at(-10));
        assertThat(run(root, "./vmsnap", "--version")).first().asString().startsWith("mvn ");
        // Newer than the jar the first rebuild touched.
        Files.setLastModifiedTime(root.resolve("cli/src/main/resources/r.properties"),
                FileTime.from(Instant.now().plusSeconds(5)));
        assertThat(run(root, "./vmsnap", "--version").stream().filter(l -> l.startsWith("mvn "))).hasSize(2);
    }

    @Test
    void aRemovedOrAddedMainSourceRebuilds() throws Exception {
        Files.delete(source); // its folder's mtime is now newer than the jar
        assertThat(run(root, "./vmsnap", "--version")).first().asString().startsWith("mvn ");
    }

    @Test
    void testSourcesAndOtherFilesDoNotRebuild() throws Exception {
        Files.setLastModifiedTime(root.resolve("cli/src/test/java/ATest.java"), at(-10));
        Files.setLastModifiedTime(root.resolve("bench/B.java"), at(-10));
        write("docs/notes.md", -10);
        assertThat(run(root, "./vmsnap", "--version")).hasSize(1).first().asString().startsWith("java ");
    }

    @Test
    void theJarHasOneSpellingHoweverTheLauncherIsStarted() throws Exception {
        Path link = tmp.resolve("bin/vmsnap");
        Files.createSymbolicLink(link, root.resolve("vmsnap"));
        Files.createDirectories(tmp.resolve("elsewhere"));
        run(root.resolve("cli"), "../vmsnap", "--version");
        run(tmp.resolve("elsewhere"), link.toString(), "--version");
        run(tmp.resolve("elsewhere"), "../tree/./vmsnap", "--version");
        run(root, root.resolve("vmsnap").toString(), "--version");
        List<String> lines = Files.readAllLines(log);
        assertThat(lines).hasSize(4).allSatisfy(l -> assertThat(l).contains(" -jar " + jar + " --version")
                .contains("-XX:AOTCache=" + root.resolve("cli/target/vmsnap.aot") + " "));
    }

    @Test
    void anAotCacheOlderThanTheJarIsTrainedAgainOnce() throws Exception {
        Files.setLastModifiedTime(jar, at(-50));
        List<String> lines = run(root, "./vmsnap", "--version");
        assertThat(lines).hasSize(5);
        assertTrainings(lines.subList(0, 4));
        assertThat(lines.get(4)).contains("-XX:AOTCache=" + root.resolve("cli/target/vmsnap-version.aot") + " ");
        assertThat(run(root, "./vmsnap", "--version")).hasSize(6);
    }

    @Test
    void eachCommandGroupRunsFromItsOwnCache() throws Exception {
        write("cli/target/vmsnap-img.aot", -100);
        write("cli/target/vmsnap-version.aot", -100);
        String full = "-XX:AOTCache=" + root.resolve("cli/target/vmsnap.aot") + " ";
        String img = "-XX:AOTCache=" + root.resolve("cli/target/vmsnap-img.aot") + " ";
        String version = "-XX:AOTCache=" + root.resolve("cli/target/vmsnap-version.aot") + " ";
        assertThat(last("--version")).contains(version, "-XX:TieredStopAtLevel=1");
        assertThat(last("-V")).contains(version);
        assertThat(last("img", "info", "x.qcow2")).contains(img, "-XX:TieredStopAtLevel=1");
        assertThat(last("--debug", "img", "info", "--output=json", "x.qcow2")).contains(img);
        assertThat(last("img", "snapshot", "-l", "x.qcow2")).contains(img, "-XX:TieredStopAtLevel=1");
        // The domain verbs (a running domain's come from QEMU, whose classes are in the full cache only).
        for (String verb : List.of("domblklist", "snapshot-list", "dominfo", "domstate", "list")) {
            assertThat(last(verb, "vm")).as(verb).contains(full, "-XX:TieredStopAtLevel=1");
        }
        assertThat(last("img", "snapshot", "-c", "s", "x.qcow2")).contains(full, "-XX:TieredStopAtLevel=1");
        assertThat(last("img", "snapshot", "x.qcow2")).contains(full);
        assertThat(last("img", "convert", "a", "b")).contains(full, "-XX:TieredStopAtLevel=1");
        for (String verb : List.of("commit", "rebase", "check", "map", "create", "resize")) {
            assertThat(last("img", verb, "a")).as(verb).contains(full, "-XX:TieredStopAtLevel=1");
        }
        // C2 where Java code is the work: compare's byte compares, save's zstd.
        assertThat(last("img", "compare", "a", "b")).contains(full).doesNotContain("TieredStopAtLevel");
        assertThat(last("save", "vm", "f")).contains(full).doesNotContain("TieredStopAtLevel");
        assertThat(last("img", "info x; img info y")).contains(full);
        assertThat(last("--version", "--debug")).contains(full);
    }

    /**
     * The snapshot verbs run with C1 only, but a revert to a snapshot whose record names a memory
     * file of its own (an external checkpoint, which the JVM streams to QEMU), or one the launcher
     * cannot find the record of (another name form, an option first), as restore.
     */
    @Test
    void snapshotVerbsRunWithC1OnlyButARevertThatStreamsAMemoryFile() throws Exception {
        Path snapshots = Files.createDirectories(tmp.resolve("home/my vm/snapshots"));
        Files.writeString(snapshots.resolve("disks.xml"), "<domainsnapshot><name>disks</name>\n"
                + "<memory snapshot='no'/>\n<disks/></domainsnapshot>\n");
        Files.writeString(snapshots.resolve("internal cp.xml"), "<domainsnapshot><name>internal cp</name>\n"
                + "<state>running</state><memory snapshot='internal'/></domainsnapshot>\n");
        Files.writeString(snapshots.resolve("cp.xml"), "<domainsnapshot><name>cp</name>\n"
                + "<state>running</state><memory snapshot='external' file='/x/cp.mem'/></domainsnapshot>\n");
        assertThat(last("snapshot-delete", "my vm", "s")).contains("-XX:TieredStopAtLevel=1");
        assertThat(last("snapshot-delete", "--current", "vm")).contains("-XX:TieredStopAtLevel=1");
        assertThat(last("snapshot-revert", "my vm", "disks")).contains("-XX:TieredStopAtLevel=1");
        assertThat(last("snapshot-revert", "my vm", "disks", "--running")).contains("-XX:TieredStopAtLevel=1");
        assertThat(last("snapshot-revert", "my vm", "internal cp")).contains("-XX:TieredStopAtLevel=1");
        assertThat(last("snapshot-revert", "my vm", "cp")).doesNotContain("TieredStopAtLevel");
        assertThat(last("snapshot-revert", "my vm", "missing")).doesNotContain("TieredStopAtLevel");
        assertThat(last("snapshot-revert", "my vm", "--current")).doesNotContain("TieredStopAtLevel");
        assertThat(last("snapshot-revert", "other", "disks")).doesNotContain("TieredStopAtLevel");
    }

    @Test
    void withoutASmallCacheItsCommandsUseTheFullOne() throws Exception {
        String full = "-XX:AOTCache=" + root.resolve("cli/target/vmsnap.aot") + " ";
        assertThat(last("--version")).contains(full);
        assertThat(last("img", "info", "x.qcow2")).contains(full);
        assertThat(Files.readAllLines(log)).noneMatch(l -> l.contains("aot-training"));
    }

    /** The four trainings after a build, in order: the full cache, the img cache, the --version cache, the client's. */
    private void assertTrainings(List<String> lines) {
        assertThat(lines.get(0)).contains("-XX:AOTCacheOutput=" + root.resolve("cli/target/vmsnap.aot") + " ")
                .endsWith(" aot-training");
        assertThat(lines.get(1)).contains("-XX:AOTCacheOutput=" + root.resolve("cli/target/vmsnap-img.aot") + " ")
                .endsWith(" aot-training-img");
        assertThat(lines.get(2)).contains("-XX:AOTCacheOutput=" + root.resolve("cli/target/vmsnap-version.aot") + " ")
                .endsWith(" --version");
        assertThat(lines.get(3)).contains("-XX:AOTCacheOutput=" + root.resolve("cli/target/vmsnap-client.aot") + " ")
                .endsWith(" -cp " + root.resolve("cli/target/vmsnap.jar") + " org.vmsnap.cli.daemon.ForwardTraining");
        // Every cache is made under the flags of the runs that use it (else the JVM ignores it).
        assertThat(lines).allSatisfy(l -> assertThat(l).contains("-XX:+UseSerialGC --enable-native-access=ALL-UNNAMED"));
    }

    /**
     * With a daemon's socket named in the state folder's .daemon, the short commands go to the
     * client (its own cache, C1), and run here only when it answers 250 (not served); everything
     * else, and every command without a live socket, runs here as before.
     */
    @Test
    void aRunningDaemonGetsTheShortCommands() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("home"));
        Path sock = tmp.resolve("d.sock");
        String forward = " -cp " + jar + " org.vmsnap.cli.daemon.Forward " + sock + " ";
        assertThat(last("snapshot-list", "vm")).doesNotContain("Forward");
        try (java.nio.channels.ServerSocketChannel ch =
                java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            Files.writeString(home.resolve(".daemon"), tmp.resolve("elsewhere.sock") + "\n");
            assertThat(last("snapshot-list", "vm")).as("no socket there").doesNotContain("Forward");
            ch.bind(java.net.UnixDomainSocketAddress.of(sock));
            Files.writeString(home.resolve(".daemon"), sock + "\n");
            write("cli/target/vmsnap-client.aot", -100);
            int before = Files.readAllLines(log).size();
            assertThat(last("snapshot-create-as", "my vm", "s 1", "--disk-only")).contains(forward
                    + "snapshot-create-as my vm s 1 --disk-only")
                    .contains("-XX:AOTCache=" + root.resolve("cli/target/vmsnap-client.aot"), "-XX:TieredStopAtLevel=1");
            assertThat(Files.readAllLines(log)).hasSize(before + 1);
            assertThat(last("--debug", "domstate", "vm")).contains(forward + "--debug domstate vm");
            assertThat(last("img", "info", "/abs/x.qcow2")).contains(forward + "img info /abs/x.qcow2");
            for (List<String> local : List.of(List.of("img", "info", "x.qcow2"), List.of("img", "convert", "/a", "/b"),
                    List.of("define", "/x.xml"), List.of("snapshot-delete", "vm", "s", "--verbose"),
                    List.of("domstate vm; list"), List.of("save", "vm", "/f"))) {
                assertThat(last(local.toArray(String[]::new))).as("%s", local).doesNotContain("Forward")
                        .contains(" -jar " + jar + " ");
            }
            env.put("VMSNAP_CRASH_AT_STEP", "1");
            assertThat(last("domstate", "vm")).doesNotContain("Forward");
            env.remove("VMSNAP_CRASH_AT_STEP");
            // Not served: the client printed nothing; the command runs here after all.
            env.put("FORWARD_RC", "250");
            before = Files.readAllLines(log).size();
            List<String> lines = run(root, "./vmsnap", "domstate", "vm");
            assertThat(lines).hasSize(before + 2);
            assertThat(lines.get(before)).contains(forward + "domstate vm");
            assertThat(lines.get(before + 1)).contains(" -jar " + jar + " domstate vm");
            // Served: its exit code is the command's.
            env.put("FORWARD_RC", "1");
            before = Files.readAllLines(log).size();
            assertThat(exitCode(root, "./vmsnap", "domstate", "vm")).isEqualTo(1);
            assertThat(Files.readAllLines(log)).hasSize(before + 1);
        }
    }

    /**
     * With no live daemon (VMSNAP_DAEMON unset or auto), a command a daemon would take runs here and
     * the launcher starts a daemon in the background for the next ones, once the command's JVM has
     * ended: from /, in a session of its own, for the absolute state folder, with --no-start,
     * --warm-up and --idle-exit; at most once per state folder per 30 s; never with
     * VMSNAP_DAEMON=manual or off, for a command no daemon takes, or for a state folder that does
     * not exist yet.
     */
    @Test
    void withoutADaemonTheLauncherStartsOneForTheNextCommands() throws Exception {
        Path daemons = tmp.resolve("daemon.log");
        String spawned = " -jar " + jar + " daemon --quiet --no-start --warm-up --idle-exit=600"
                + " --watch-sources=" + root;
        env.put("VMSNAP_DAEMON", "auto");
        assertThat(last("domstate", "vm")).endsWith(" -jar " + jar + " domstate vm");
        Thread.sleep(500);
        assertThat(daemons).as("no state folder yet").doesNotExist();

        Path home = Files.createDirectories(tmp.resolve("home"));
        int before = Files.readAllLines(log).size();
        run(root, "./vmsnap", "domstate", "vm");
        assertThat(awaitLines(daemons, 1)).containsExactly(
                "daemon cwd=/ home=" + home + " session-leader=yes");
        List<String> lines = Files.readAllLines(log);
        assertThat(lines.subList(before, lines.size())).hasSize(2)
                .anySatisfy(l -> assertThat(l).endsWith(" -jar " + jar + " domstate vm"))
                .anySatisfy(l -> assertThat(l).endsWith(spawned).contains("-XX:AOTCache=" + root.resolve(
                        "cli/target/vmsnap.aot")).doesNotContain("TieredStopAtLevel"));
        long stamp = Long.parseLong(Files.readString(home.resolve(".daemon.spawn")).strip());
        assertThat(stamp).isCloseTo(Instant.now().getEpochSecond(), org.assertj.core.data.Offset.offset(5L));

        // The stand-in daemon never came up: within 30 s no second attempt (unset is auto).
        env.put("VMSNAP_DAEMON", null);
        last("snapshot-list", "vm");
        Files.writeString(home.resolve(".daemon.spawn"), (stamp - 31) + "\n");
        for (String mode : List.of("manual", "off")) {
            env.put("VMSNAP_DAEMON", mode);
            last("snapshot-list", "vm");
        }
        env.put("VMSNAP_DAEMON", null);
        last("img", "convert", "/a", "/b");
        Thread.sleep(500);
        assertThat(Files.readAllLines(daemons)).hasSize(1);
        // 31 s later, one more.
        last("snapshot-list", "vm");
        assertThat(awaitLines(daemons, 2)).hasSize(2);
        // A stamp from the future (the clock was set back) is old.
        Files.writeString(home.resolve(".daemon.spawn"), (stamp + 3600) + "\n");
        last("snapshot-list", "vm");
        assertThat(awaitLines(daemons, 3)).hasSize(3);
        // A relative state folder is given to the daemon as an absolute one.
        Files.writeString(home.resolve(".daemon.spawn"), "garbage\n");
        env.put("VMSNAP_HOME", "../home");
        run(root, "./vmsnap", "domblklist", "vm");
        assertThat(awaitLines(daemons, 4).getLast()).isEqualTo("daemon cwd=/ home=" + root + "/../home"
                + " session-leader=yes");
        assertThat(Files.readString(home.resolve(".daemon.spawn")).strip()).matches("[0-9]+");
        // The daemon's JVM starts after the command's has ended (they would share the CPUs).
        Files.writeString(home.resolve(".daemon.spawn"), "0\n");
        run(root, "./vmsnap", "domstate", "slow");
        awaitLines(daemons, 5);
        long ended = Long.parseLong(Files.readString(Path.of(daemons + ".slow-ended")).strip());
        assertThat(Long.parseLong(Files.readString(Path.of(daemons + ".started")).strip())).isGreaterThan(ended);
    }

    /** The lines of {@code file} once it has {@code n} (10 s at most: the launcher does not wait for it). */
    private static List<String> awaitLines(Path file, int n) throws Exception {
        for (int i = 0; i < 100 && (!Files.exists(file) || Files.readAllLines(file).size() < n); i++) {
            Thread.sleep(100);
        }
        return Files.readAllLines(file);
    }

    /** The java command line of the launcher run with these arguments. */
    private String last(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("./vmsnap"));
        command.addAll(List.of(args));
        return run(root, command.toArray(String[]::new)).getLast();
    }

    private final java.util.Map<String, String> env = new java.util.HashMap<>();

    /** Runs the launcher; returns the whole log (java's and mvn's lines) afterwards. */
    private List<String> run(Path dir, String... command) throws Exception {
        assertThat(exitCode(dir, command)).isZero();
        return Files.readAllLines(log);
    }

    private int exitCode(Path dir, String... command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", tmp.resolve("jdk").toString());
        pb.environment().put("PATH", tmp.resolve("bin") + ":/usr/bin:/bin");
        pb.environment().put("LAUNCHER_LOG", log.toString());
        pb.environment().put("VMSNAP_HOME", tmp.resolve("home").toString());
        Files.createDirectories(tmp.resolve("xdg"));
        pb.environment().put("XDG_RUNTIME_DIR", tmp.resolve("xdg").toString());
        // Without a daemon the launcher starts one in the background: only the tests of that want it.
        pb.environment().put("VMSNAP_DAEMON", "manual");
        pb.environment().put("DAEMON_LOG", tmp.resolve("daemon.log").toString());
        env.forEach((k, v) -> {
            if (v == null) {
                pb.environment().remove(k); // unset
            } else {
                pb.environment().put(k, v);
            }
        });
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue() == 0 || out.isEmpty()).as(out).isTrue();
        return p.exitValue();
    }

    private Path write(String relative, long secondsFromNow) throws IOException {
        Path f = root.resolve(relative);
        Files.createDirectories(f.getParent());
        Files.writeString(f, relative);
        Files.setLastModifiedTime(f, at(secondsFromNow));
        return f;
    }

    private FileTime at(long secondsFromNow) {
        return FileTime.from(now.plusSeconds(secondsFromNow));
    }

    private static void script(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static void copyExecutable(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
