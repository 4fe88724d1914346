package org.vmsnap.manager.xml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.InvalidInputException;

/** Every rule that refuses input: one line, InvalidInputException, nothing half-accepted. */
class BadXmlTest {
    private static final String DISK = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            + "<source file='%s'/><target dev='%s' bus='virtio'/></disk>";

    @TempDir
    Path dir;

    @Test
    void malformedXml() {
        refusedDomain("<domain><name>x</name>").hasMessageStartingWith("domain XML: malformed XML (line 1, column");
        refusedSnapshot("<domainsnapshot><name>x</nam></domainsnapshot>")
                .hasMessageStartingWith("snapshot XML: malformed XML (line 1, column");
    }

    /** The fuzzer's inputs are a few KiB; nesting deep enough to overflow a recursive walk needs more. */
    @Test
    void deeplyNestedElementsAreRefusedOrRead_neverAStackOverflow() {
        String deep = "<a>".repeat(200_000) + "</a>".repeat(200_000);
        for (String xml : new String[] {"<domain type='kvm'><name>x</name><memory>1</memory><devices>" + deep
                + "</devices></domain>", "<domainsnapshot><name>s</name><description>" + deep + "</description></domainsnapshot>"}) {
            try {
                Object parsed = xml.startsWith("<domain ") ? Domain.parse(xml).toXml() : SnapshotXml.format(SnapshotXml.parse(xml));
                assertThat(parsed).isNotNull();
            } catch (InvalidInputException refused) {
                assertThat(refused.getMessage()).doesNotContain("\n");
            }
        }
    }

    /** Found by XmlFuzzTest: the JDK's parser throws MissingResourceException for a bad character in a DTD. */
    @Test
    void aCharacterTheJdkParserCannotNameIsStillOneLine() {
        String xml = "<!DOCTYPE domain [<!ENTITY a SYS\u000fx>]><domain/>";
        refusedDomain(xml).isInstanceOf(InvalidInputException.class)
                .hasMessage("domain XML: malformed XML (line 1, column 33): the parser's error InvalidCharInDTD");
        refusedSnapshot(xml).isInstanceOf(InvalidInputException.class)
                .hasMessageStartingWith("snapshot XML: malformed XML (line 1");
    }

    /** Found by XmlFuzzTest: a boot element without dev was a NullPointerException. */
    @Test
    void bootWithoutDevAndFirmwareFeatureWithoutName() {
        String boot = "<domain type='kvm'><name>b</name><memory>1024</memory><os><type>hvm</type><boot/></os></domain>";
        oneLine(assertThatThrownBy(() -> Domain.parse(boot).hardware()))
                .hasMessage("domain b: <os><boot> has no dev attribute");
        String feature = "<domain type='kvm'><name>f</name><memory>1024</memory><os firmware='efi'><type>hvm</type>"
                + "<firmware><feature enabled='yes'/></firmware></os></domain>";
        oneLine(assertThatThrownBy(() -> Domain.parse(feature).hardware()))
                .hasMessage("domain f: <os><firmware><feature> has no name attribute");
    }

    @Test
    void secondRootElement() {
        refusedDomain("<domain><name>x</name></domain><domain/>").hasMessageContaining("malformed XML");
    }

    @Test
    void emptyDocument() {
        refusedDomain("").hasMessageStartingWith("domain XML: malformed XML");
    }

    @Test
    void doctypeWithInternalEntities() {
        refusedDomain("<!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
                + "<domain><name>&b;</name></domain>")
                .hasMessage("domain XML (line 1, column 84): <!DOCTYPE> is not allowed (no DTDs, no entities)");
    }

    /** The entity points at a FIFO nobody writes: opening it would block, so finishing proves it was not read. */
    @Test
    void externalEntityToALocalFileIsNotRead() throws Exception {
        Path secret = dir.resolve("secret");
        Process mkfifo = new ProcessBuilder("mkfifo", secret.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).as("mkfifo").isZero();
        String xxe = "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file://" + secret + "'>]><domain><name>&x;</name></domain>";
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> refusedDomain(xxe)
                .hasMessageContaining("<!DOCTYPE> is not allowed"));
        Path plain = dir.resolve("plain");
        Files.writeString(plain, "TOP-SECRET");
        String xxe2 = "<!DOCTYPE d [<!ENTITY x SYSTEM 'file://" + plain + "'>]><domainsnapshot><description>&x;"
                + "</description></domainsnapshot>";
        refusedSnapshot(xxe2).hasMessageNotContaining("TOP-SECRET");
    }

    @Test
    void externalDtd() throws Exception {
        Path fifo = dir.resolve("dtd");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor()).isZero();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> refusedSnapshot(
                "<!DOCTYPE domainsnapshot SYSTEM 'file://" + fifo + "'><domainsnapshot/>")
                .hasMessageContaining("<!DOCTYPE> is not allowed"));
    }

    @Test
    void undeclaredEntityReference() {
        refusedDomain("<domain><name>&x;</name></domain>")
                .hasMessageContaining("\"x\" was referenced, but not declared");
    }

    @Test
    void xinclude() {
        refusedDomain("<domain xmlns:xi='http://www.w3.org/2001/XInclude'><name>x</name>"
                + "<xi:include href='/etc/passwd' parse='text'/></domain>")
                .hasMessage("domain XML (line 1, column 52): XInclude is not allowed");
        refusedSnapshot("<domainsnapshot><description><p xmlns='http://www.w3.org/2001/XInclude'/></description>"
                + "</domainsnapshot>").hasMessageContaining("XInclude is not allowed");
    }

    @Test
    void wrongRootElement() {
        refusedDomain("<domainsnapshot/>")
                .hasMessage("domain XML: root element is <domainsnapshot>, expected <domain>");
        refusedSnapshot("<domain/>").hasMessage("snapshot XML: root element is <domain>, expected <domainsnapshot>");
    }

    @Test
    void missingDomainName() {
        refusedDomain("<domain type='kvm'><memory>1024</memory></domain>").hasMessage("domain XML: missing <name>");
        refusedDomain("<domain type='kvm'><name> </name><memory>1024</memory></domain>")
                .hasMessage("domain XML: missing <name>");
    }

    @Test
    void missingMemory() {
        refusedDomain("<domain type='kvm'><name>x</name></domain>").hasMessage(
                "domain x: memory size must be specified via <memory> or in the <numa> configuration");
    }

    @Test
    void malformedUuid() {
        refusedDomain(domain("x", "<uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca42</uuid>"))
                .hasMessage("domain x: malformed uuid '1b4e28ba-2fa1-11d2-883f-0016d3cca42'"
                        + " (31 hex digits, expected 32)");
        refusedDomain(domain("x", "<uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca42g</uuid>"))
                .hasMessageContaining("malformed uuid");
    }

    @Test
    void invalidVcpuCount() {
        refusedDomain(domain("x", "<vcpu>0</vcpu>")).hasMessage("domain x: <vcpu>: vCPU count 0 is not in 1..16384");
        refusedDomain(domain("x", "<vcpu>two</vcpu>")).hasMessage("domain x: <vcpu>: invalid vCPU count 'two'");
        refusedDomain(domain("x", "<vcpu current='3'>2</vcpu>"))
                .hasMessage("domain x: current vCPUs (3) exceed the maximum (2)");
    }

    @Test
    void duplicateDiskTargets() {
        refusedDomain(domain("x", "<devices>" + DISK.formatted("/a.qcow2", "vda") + DISK.formatted("/b.qcow2", "vda")
                + "</devices>")).hasMessage("domain x: disk target vda appears twice");
    }

    @Test
    void diskWithoutTarget() {
        refusedDomain(domain("x", "<devices><disk type='file'><source file='/a'/></disk></devices>"))
                .hasMessage("domain x: a <disk> has no <target dev=...>");
    }

    @Test
    void relativeDomainDiskSource() {
        refusedDomain(domain("x", "<devices>" + DISK.formatted("images/a.qcow2", "vda") + "</devices>"))
                .hasMessage("domain x: disk vda source 'images/a.qcow2' is not an absolute path");
    }

    @Test
    void relativeSnapshotDiskSource() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda' snapshot='external'><source file='a.s1'/></disk>"
                + "</disks></domainsnapshot>").hasMessage("snapshot XML: disk vda: image path 'a.s1' must be absolute");
    }

    @Test
    void relativeSnapshotDiskName() {
        refusedSnapshot("<domainsnapshot><disks><disk name='images/a.qcow2'/></disks></domainsnapshot>")
                .hasMessage("snapshot XML: disk name 'images/a.qcow2' is neither a target (vda)"
                        + " nor an absolute image path");
    }

    @Test
    void relativeMemoryFile() {
        refusedSnapshot("<domainsnapshot><memory snapshot='external' file='mem.save'/></domainsnapshot>")
                .hasMessage("snapshot XML: memory file 'mem.save' must be an absolute path");
    }

    @Test
    void unknownDiskSnapshotMode() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda' snapshot='sometimes'/></disks></domainsnapshot>")
                .hasMessage("unknown snapshot location 'sometimes' (expected no, internal, external or manual)");
    }

    @Test
    void unknownOrManualMemoryMode() {
        refusedSnapshot("<domainsnapshot><memory snapshot='later'/></domainsnapshot>")
                .hasMessageContaining("unknown snapshot location 'later'");
        refusedSnapshot("<domainsnapshot><memory snapshot='manual'/></domainsnapshot>")
                .hasMessage("snapshot XML: 'manual' memory snapshot mode is not supported");
    }

    @Test
    void memoryFileWithoutExternalAndExternalWithoutFile() {
        refusedSnapshot("<domainsnapshot><memory snapshot='internal' file='/m'/></domainsnapshot>")
                .hasMessage("snapshot XML: memory file '/m' requires snapshot='external'");
        refusedSnapshot("<domainsnapshot><memory snapshot='external'/></domainsnapshot>")
                .hasMessage("snapshot XML: an external memory snapshot needs file=...");
    }

    @Test
    void diskFileWithANonExternalMode() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda' snapshot='internal'><source file='/a.s1'/></disk>"
                + "</disks></domainsnapshot>")
                .hasMessage("snapshot XML: file '/a.s1' for disk vda requires snapshot='external'");
    }

    @Test
    void duplicateSnapshotDisks() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda'/><disk name='vda' snapshot='no'/></disks>"
                + "</domainsnapshot>").hasMessage("snapshot XML: disk 'vda' specified twice");
    }

    @Test
    void diskNamedByAPathTheSnapshotsDomainDoesNotHave() {
        String s = Fixtures.read("snapshot-internal.xml").replace("<disk name='vdb'", "<disk name='/nowhere.img'");
        refusedSnapshot(s).hasMessage("snapshot XML: no disk named '/nowhere.img' in the snapshot's domain web01");
    }

    @Test
    void diskWithoutName() {
        refusedSnapshot("<domainsnapshot><disks><disk snapshot='no'/></disks></domainsnapshot>")
                .hasMessage("snapshot XML: a <disk> has no name");
    }

    @Test
    void nonFileSnapshotDisk() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda' type='block'><source dev='/dev/sdb'/></disk>"
                + "</disks></domainsnapshot>").hasMessage(
                        "snapshot XML: disk vda: type 'block' is not supported"
                        + " (vmsnap snapshots disks into files: type='file')");
    }

    @Test
    void unknownDriverType() {
        refusedSnapshot("<domainsnapshot><disks><disk name='vda'><driver type='qcow3'/></disk></disks>"
                + "</domainsnapshot>").hasMessage("snapshot XML: disk vda: unknown driver type 'qcow3'");
    }

    @Test
    void unknownState() {
        refusedSnapshot("<domainsnapshot><state>sleeping</state></domainsnapshot>")
                .hasMessage("snapshot XML: invalid state 'sleeping'");
    }

    @Test
    void nonNumericCreationTime() {
        refusedSnapshot("<domainsnapshot><creationTime>yesterday</creationTime></domainsnapshot>")
                .hasMessage("snapshot XML: creationTime 'yesterday' is not a number of seconds");
        refusedSnapshot("<domainsnapshot><creationTime>99999999999999999999</creationTime></domainsnapshot>")
                .hasMessageContaining("is not a number of seconds");
    }

    @Test
    void badActive() {
        refusedSnapshot("<domainsnapshot><active>yes</active></domainsnapshot>")
                .hasMessage("snapshot XML: <active> is 'yes', expected 0 or 1");
    }

    @Test
    void nameWithSlash() {
        refusedDomain(domain("a/b", "")).hasMessage("domain name 'a/b' contains '/'");
        refusedSnapshot("<domainsnapshot><name>../../etc</name></domainsnapshot>")
                .hasMessage("snapshot name '../../etc' contains '/'");
    }

    @Test
    void nameDotDot() {
        refusedSnapshot("<domainsnapshot><name>..</name></domainsnapshot>")
                .hasMessage("snapshot name '..' starts with '.'");
        refusedDomain(domain("..", "")).hasMessage("domain name '..' starts with '.'");
        refusedSnapshot("<domainsnapshot><parent><name>..</name></parent></domainsnapshot>")
                .hasMessage("snapshot name '..' starts with '.'");
    }

    @Test
    void nameWithControlCharacter() {
        refusedSnapshot("<domainsnapshot><name>a&#9;b</name></domainsnapshot>")
                .hasMessage("snapshot name contains control character 0x9");
        refusedDomain(domain("a&#10;b", "")).hasMessage("domain name contains control character 0xa");
        // characters XML itself forbids never get that far
        refusedSnapshot("<domainsnapshot><name>a&#1;b</name></domainsnapshot>").hasMessageContaining("malformed XML");
    }

    @Test
    void nameLongerThan255Bytes() {
        String longName = "é".repeat(128); // 256 bytes in UTF-8, 128 characters
        refusedSnapshot("<domainsnapshot><name>" + longName + "</name></domainsnapshot>")
                .hasMessage("snapshot name is longer than 255 bytes");
        refusedDomain(domain("x".repeat(256), "")).hasMessage("domain name is longer than 255 bytes");
    }

    private static String domain(String name, String body) {
        return "<domain type='kvm'><name>" + name + "</name><memory>1024</memory>" + body + "</domain>";
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> refusedDomain(String xml) {
        return oneLine(assertThatThrownBy(() -> Domain.parse(xml)));
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> refusedSnapshot(String xml) {
        return oneLine(assertThatThrownBy(() -> SnapshotXml.parse(xml)));
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> oneLine(
            AbstractThrowableAssert<?, ? extends Throwable> t) {
        return t.isInstanceOf(InvalidInputException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
