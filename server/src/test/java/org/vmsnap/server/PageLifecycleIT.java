package org.vmsnap.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.vmsnap.manager.DomainService;
import org.vmsnap.testkit.TestGuest;

/**
 * The test guest (QEMU under TCG) started and destroyed through the page's buttons in chromium:
 * the state next to the domain's name and the buttons follow the domain events; Destroy asks
 * first (dismissed: the guest still runs), and no QEMU is left. Screenshots under
 * target/screenshots.
 */
class PageLifecycleIT {
    @TempDir
    Path dir;

    @Test
    void startAndDestroyThroughThePage() throws Exception {
        DomainService domains = new DomainService(dir.resolve("home"));
        Path disk = dir.resolve("data0.qcow2");
        TestGuest.createDataDisk(disk, 64);
        domains.define(TestGuest.get().domainXml("g", List.of(disk), dir.resolve("g-serial.log")));
        VmsnapServer server = VmsnapServer.start(domains, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        ChromeOptions options = new ChromeOptions();
        options.setBinary("/usr/bin/chromium");
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800");
        ChromeDriver browser = new ChromeDriver(new ChromeDriverService.Builder()
                .usingDriverExecutable(new File("/usr/bin/chromedriver")).usingAnyFreePort().build(), options);
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(120));
        try {
            browser.get(server.pageUrl());
            wait.until(ExpectedConditions.textToBe(By.id("domain-state"), "(shut off)"));
            wait.until(ExpectedConditions.elementToBeClickable(By.id("act-start"))).click();
            wait.until(ExpectedConditions.textToBe(By.id("domain-state"), "(running)"));
            // The manager's own view agrees within a few seconds (once, in CI, it read "paused" just
            // after the page showed running; not explained yet: see the session note).
            long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            String seen = domains.status("g").state().words();
            while (!seen.equals("running") && System.nanoTime() < until) {
                Thread.sleep(200);
                seen = domains.status("g").state().words();
            }
            assertThat(seen).isEqualTo("running");
            wait.until(ExpectedConditions.elementToBeClickable(By.id("act-destroy")));
            assertThat(browser.findElement(By.id("act-start")).isEnabled()).isFalse();
            assertThat(browser.findElement(By.cssSelector("#domains li[data-name='g']")).getText()).contains("running");
            shot(browser, "running");

            browser.findElement(By.id("act-destroy")).click();
            Alert confirm = wait.until(ExpectedConditions.alertIsPresent());
            assertThat(confirm.getText()).contains("Destroy g?").contains("is lost");
            confirm.dismiss();
            assertThat(domains.status("g").active()).as("dismissed: still running").isTrue();

            browser.findElement(By.id("act-destroy")).click();
            wait.until(ExpectedConditions.alertIsPresent()).accept();
            wait.until(ExpectedConditions.textToBe(By.id("domain-state"), "(shut off)"));
            assertThat(domains.status("g").active()).isFalse();
            wait.until(ExpectedConditions.elementToBeClickable(By.id("act-start")));
            shot(browser, "destroyed");
        } finally {
            try {
                if (domains.status("g").active()) {
                    domains.destroy("g", false); // no QEMU left behind a failed assertion
                }
            } finally {
                browser.quit();
                server.close();
            }
        }
    }

    static void shot(ChromeDriver browser, String name) throws Exception {
        Path dir = Files.createDirectories(PageBrowserIT.SCREENSHOTS);
        Files.copy(browser.getScreenshotAs(OutputType.FILE).toPath(), dir.resolve("PageLifecycleIT-" + name + ".png"),
                StandardCopyOption.REPLACE_EXISTING);
    }
}
