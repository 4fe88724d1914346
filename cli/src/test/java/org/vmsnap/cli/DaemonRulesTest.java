package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which commands the daemon takes: short ones, and img info and img snapshot of absolute files only. */
class DaemonRulesTest {
    @Test
    void theShortDomainAndSnapshotVerbsAreTaken() {
        for (String verb : DaemonRules.VERBS) {
            assertThat(DaemonRules.accepts(verb, "vm")).as(verb).isTrue();
        }
        assertThat(DaemonRules.accepts("--debug", "snapshot-create-as", "vm", "s", "--disk-only",
                "--diskspec", "vda,file=rel.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "info", "/abs/x.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "info", "--output", "json", "-U", "/abs/x.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "snapshot", "-l", "/abs/x.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "snapshot", "/abs/x.qcow2", "-l", "--output=json")).isTrue();
        // Snapshot writes are metadata of one image too (milliseconds in a warm JVM).
        assertThat(DaemonRules.accepts("img", "snapshot", "-c", "s", "/abs/x.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "snapshot", "-a", "s", "/abs/x.qcow2")).isTrue();
        assertThat(DaemonRules.accepts("img", "snapshot", "-d", "./s", "/abs/x.qcow2")).as("a name, not a file").isTrue();
    }

    @Test
    void whatReadsAFileOrMovesDataOrTalksToATerminalIsNot() {
        assertThat(DaemonRules.accepts()).isFalse();
        assertThat(DaemonRules.accepts("--debug")).isFalse();
        assertThat(DaemonRules.accepts("define", "/abs/vm.xml")).isFalse();
        assertThat(DaemonRules.accepts("snapshot-create", "vm", "/abs/s.xml")).isFalse();
        assertThat(DaemonRules.accepts("save", "vm", "/abs/vm.save")).isFalse();
        assertThat(DaemonRules.accepts("restore", "/abs/vm.save")).isFalse();
        assertThat(DaemonRules.accepts("daemon")).isFalse();
        assertThat(DaemonRules.accepts("serve")).isFalse();
        assertThat(DaemonRules.accepts("snapshot-delete", "vm", "s", "--verbose")).isFalse();
        assertThat(DaemonRules.accepts("domstate vm; destroy vm")).isFalse();
        assertThat(DaemonRules.accepts("img", "convert", "/a", "/b")).isFalse();
        assertThat(DaemonRules.accepts("img", "info", "x.qcow2")).as("relative").isFalse();
        assertThat(DaemonRules.accepts("img", "info", "/abs/x.qcow2", "--output", "json", "../x.qcow2")).isFalse();
        assertThat(DaemonRules.accepts("img", "snapshot", "-c", "s", "x.qcow2")).as("relative").isFalse();
        assertThat(DaemonRules.accepts("img", "snapshot", "-c", "s", "/abs/x.qcow2", "--nope")).as("a typo").isFalse();
    }

    /** The launcher's forward_command offers the daemon exactly the verbs DaemonRules takes (one list in two languages). */
    @Test
    void theLauncherOffersTheSameVerbs() throws Exception {
        String script = java.nio.file.Files.readString(java.nio.file.Path.of("..", "vmsnap"));
        String fn = script.substring(script.indexOf("forward_command() {"));
        String cases = fn.substring(fn.indexOf("case ${words[$i]} in") + "case ${words[$i]} in".length(),
                fn.indexOf(") return 0 ;;"));
        java.util.Set<String> launcher = new java.util.TreeSet<>();
        for (String w : cases.split("[|\\\\\\s]+")) {
            if (!w.isBlank()) {
                launcher.add(w);
            }
        }
        assertThat(launcher).isEqualTo(new java.util.TreeSet<>(DaemonRules.VERBS));
    }

    /** A file name in a virsh verb's arguments resolves against the user's folder only through Cwd. */
    @Test
    void virshVerbsNameFilesOnlyThroughCwd() throws Exception {
        java.nio.file.Path src = java.nio.file.Path.of("src/main/java/org/vmsnap/cli/virsh");
        try (var files = java.nio.file.Files.list(src)) {
            for (java.nio.file.Path f : files.toList()) {
                String text = java.nio.file.Files.readString(f);
                assertThat(text).as(f.toString()).doesNotContain("Path.of(", "Paths.get(", "new File(",
                        "toAbsolutePath()");
            }
        }
        java.nio.file.Path base = java.nio.file.Path.of("/some/folder");
        assertThat(Cwd.in(base, () -> Cwd.path("a b.qcow2"))).isEqualTo(base.resolve("a b.qcow2"));
        assertThat(Cwd.in(base, () -> Cwd.path("/x/y"))).isEqualTo(java.nio.file.Path.of("/x/y"));
        assertThat(Cwd.path("a b.qcow2")).isEqualTo(java.nio.file.Path.of("a b.qcow2"));
    }
}
