package org.vmsnap.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

/**
 * The page in Debian's chromium (headless, through chromedriver; both installed by the test
 * command): it draws a shut-off domain's tree of internal, external and branch snapshots with the
 * right parents and the current marker, creates a snapshot and reverts through its buttons (the
 * revert after its confirmation), and the manager sees each change; without the token the page is
 * refused. Each test saves a screenshot under target/screenshots.
 */
class PageBrowserIT {
    static final Path SCREENSHOTS = Path.of("target", "screenshots");

    @TempDir
    Path tmp;
    DomainService domains;
    VmsnapServer server;
    ChromeDriver browser;
    WebDriverWait wait;
    String test;

    @BeforeEach
    void setUp(TestInfo info) throws IOException {
        test = info.getTestMethod().orElseThrow().getName();
        domains = new DomainService(tmp.resolve("home"));
        Path disks = Files.createDirectories(tmp.resolve("disks"));
        Path vda = disks.resolve("a.qcow2");
        Path vdb = disks.resolve("b.qcow2");
        Qcow2Image.create(vda, Qcow2CreateOptions.ofSize(4 << 20)).close();
        Qcow2Image.create(vdb, Qcow2CreateOptions.ofSize(4 << 20)).close();
        domains.define(ShutOffDomainXml.of("vm1", vda, vdb));
        // s1 internal; s2 internal on s1; back to s1; s3 external: a branch beside s2.
        SnapshotService s = domains.snapshots("vm1");
        s.create(VmsnapServerTest.request("s1").withDescription("fresh install"), CreateFlags.none());
        s.create(VmsnapServerTest.request("s2"), CreateFlags.none());
        s.revert("s1", false);
        s.create(VmsnapServerTest.request("s3", SnapshotMode.EXTERNAL, SnapshotMode.EXTERNAL), CreateFlags.none());
        server = VmsnapServer.start(domains, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));

        ChromeOptions options = new ChromeOptions();
        options.setBinary("/usr/bin/chromium");
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File("/usr/bin/chromedriver")).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        wait = new WebDriverWait(browser, Duration.ofSeconds(30));
        // The page redraws its tree when a job ends: an element found just before may be gone when read.
        wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class);
    }

    @AfterEach
    void tearDown() throws IOException {
        try {
            screenshot(test);
        } finally {
            browser.quit();
            server.close();
        }
    }

    void screenshot(String name) throws IOException {
        Files.createDirectories(SCREENSHOTS);
        Files.copy(browser.getScreenshotAs(OutputType.FILE).toPath(), SCREENSHOTS.resolve("PageBrowserIT-" + name
                + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    By snap(String name) {
        return By.cssSelector("svg#tree g.snap[data-name='" + name + "']");
    }

    String current() {
        return browser.findElement(By.cssSelector("svg#tree g.snap.current")).getDomAttribute("data-name");
    }

    /** The classes of a snapshot's group: its kind, current, selected. */
    List<String> classes(String name) {
        return List.of(browser.findElement(snap(name)).getDomAttribute("class").split(" "));
    }

    @Test
    void theTreeIsDrawnAndASnapshotMadeThroughThePageAppears() throws Exception {
        browser.get(server.pageUrl());
        wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("svg#tree g.snap"), 3));
        assertThat(browser.findElement(By.cssSelector("#domains li[data-name='vm1']")).getText())
                .contains("vm1").contains("shut off");
        assertThat(current()).isEqualTo("s3");
        assertThat(classes("s1")).contains("internal").doesNotContain("current");
        assertThat(classes("s2")).contains("internal");
        assertThat(classes("s3")).contains("external", "current");
        assertThat(browser.findElements(By.cssSelector("svg#tree path.edge"))).hasSize(2);
        // The branch: s2 continues s1's column, s3 opens the next one (TreeLayout), both below s1.
        WebElement s1 = browser.findElement(snap("s1")).findElement(By.cssSelector(".shape"));
        WebElement s2 = browser.findElement(snap("s2")).findElement(By.cssSelector(".shape"));
        WebElement s3 = browser.findElement(snap("s3")).findElement(By.cssSelector(".shape"));
        assertThat(s2.getRect().getX()).isEqualTo(s1.getRect().getX());
        assertThat(s3.getRect().getX()).isGreaterThan(s1.getRect().getX());
        assertThat(s2.getRect().getY()).isGreaterThan(s1.getRect().getY());
        assertThat(s3.getRect().getY()).isGreaterThan(s2.getRect().getY());
        screenshot(test + "-before");

        browser.findElement(By.id("snap-name")).sendKeys("from-page");
        browser.findElement(By.id("snap-desc")).sendKeys("made in the browser");
        browser.findElement(By.id("create")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(snap("from-page")));
        wait.until(d -> current().equals("from-page"));
        assertThat(browser.findElement(By.id("status")).getText()).contains("done");
        SnapshotTree tree = domains.snapshots("vm1").tree();
        assertThat(tree.current()).isEqualTo("from-page");
        assertThat(tree.get("from-page").parent()).isEqualTo("s3");
        assertThat(tree.get("from-page").description()).isEqualTo("made in the browser");
        assertThat(browser.findElements(By.cssSelector("svg#tree g.snap"))).hasSize(4);
    }

    @Test
    void revertThroughThePageAfterItsConfirmationMovesTheCurrentMarker() throws Exception {
        browser.get(server.pageUrl());
        wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("svg#tree g.snap"), 3));
        browser.findElement(snap("s2")).findElement(By.cssSelector("text.name")).click();
        wait.until(ExpectedConditions.elementToBeClickable(By.id("revert"))).click();
        Alert confirm = wait.until(ExpectedConditions.alertIsPresent());
        assertThat(confirm.getText()).contains("Revert vm1 to \u2018s2\u2019").contains("discards the changes since"
                + " snapshot \u2018s3\u2019");
        // Dismissed: nothing happens.
        confirm.dismiss();
        assertThat(current()).isEqualTo("s3");
        assertThat(domains.snapshots("vm1").tree().current()).isEqualTo("s3");

        browser.findElement(By.id("revert")).click();
        wait.until(ExpectedConditions.alertIsPresent()).accept();
        wait.until(d -> current().equals("s2"));
        assertThat(domains.snapshots("vm1").tree().current()).isEqualTo("s2");
        assertThat(classes("s3")).doesNotContain("current");
    }

    @Test
    void theDomainStateAndItsButtonsFollowTheEventStreamWithoutAReload() throws Exception {
        browser.get(server.pageUrl());
        wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("svg#tree g.snap"), 3));
        assertThat(browser.findElement(By.id("domain-state")).getText()).isEqualTo("(shut off)");
        // A shut-off domain: only Start is offered.
        assertThat(browser.findElement(By.id("act-start")).isEnabled()).isTrue();
        for (String verb : List.of("suspend", "resume", "shutdown", "destroy", "managedsave")) {
            assertThat(browser.findElement(By.id("act-" + verb)).isEnabled()).as(verb).isFalse();
        }
        // A domain defined and undefined by someone else (the manager, as the CLI would) comes and
        // goes in the list through /api/events, with no reload of the page.
        Object marker = browser.executeScript("window.notReloaded = true; return window.notReloaded;");
        assertThat(marker).isEqualTo(true);
        Path vdc = tmp.resolve("disks").resolve("c.qcow2");
        Qcow2Image.create(vdc, Qcow2CreateOptions.ofSize(4 << 20)).close();
        domains.define(ShutOffDomainXml.of("vm2", vdc));
        By vm2 = By.cssSelector("#domains li[data-name='vm2']");
        wait.until(ExpectedConditions.presenceOfElementLocated(vm2));
        assertThat(browser.findElement(vm2).getText()).contains("vm2").contains("shut off");
        screenshot(test + "-defined");
        domains.undefine("vm2", false, false);
        wait.until(ExpectedConditions.numberOfElementsToBe(vm2, 0));
        assertThat(browser.executeScript("return window.notReloaded === true;")).isEqualTo(true);
    }

    @Test
    void withoutTheTokenThePageIsRefused() {
        browser.get(server.url() + "/");
        String text = browser.findElement(By.tagName("body")).getText();
        assertThat(text).contains("missing or wrong token");
        assertThat(browser.findElements(By.id("tree"))).isEmpty();
        browser.get(server.url() + "/?token=" + "0".repeat(64));
        assertThat(browser.findElements(By.id("tree"))).isEmpty();
    }
}
