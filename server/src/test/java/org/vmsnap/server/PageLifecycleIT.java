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
 * the state next to the domain's name and the buttons follow the domain events; "Save to file"
 * asks for a path, shows the CLI's line for one that exists (the guest still runs), saves to a new
 * one with the progress bar fed by the job's events, and "Restore from file" starts it again;
 * Destroy asks first (dismissed: the guest still runs), and no QEMU is left. Screenshots under
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
        // 1 GiB: a save's stream long enough for QEMU's progress figures to be read during it.
        domains.define(TestGuest.get().domainXml("g", 1024, List.of(disk), dir.resolve("g-serial.log")));
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

            // Save to a path that exists: the CLI's line, nothing done.
            browser.findElement(By.id("act-save")).click();
            Alert ask = wait.until(ExpectedConditions.alertIsPresent());
            assertThat(ask.getText()).contains("Save g's memory to a new file");
            ask.sendKeys(disk.toString());
            ask.accept();
            String refused = "Failed to save domain 'g' to " + disk + ": " + disk
                    + ": file exists; vmsnap does not overwrite it";
            wait.until(ExpectedConditions.textToBe(By.id("status"), refused));
            assertThat(browser.findElement(By.id("status")).getAttribute("class")).isEqualTo("error");
            assertThat(domains.status("g").state().words()).isEqualTo("running");

            // Every value the page gives its progress bar, as it gives it (the job's progress events).
            browser.executeScript("const d = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value');"
                    + "window.seen = [];"
                    + "Object.defineProperty(HTMLProgressElement.prototype, 'value', { configurable: true,"
                    + "  get() { return d.get.call(this); },"
                    + "  set(v) { window.seen.push([Number(v), Number(this.max), !this.classList.contains('hidden')]);"
                    + "    d.set.call(this, v); } });");
            Path state = dir.resolve("g.state");
            long t0 = System.nanoTime();
            wait.until(ExpectedConditions.elementToBeClickable(By.id("act-save"))).click();
            Alert file = wait.until(ExpectedConditions.alertIsPresent());
            file.sendKeys(state.toString());
            file.accept();
            wait.until(ExpectedConditions.textToBe(By.id("domain-state"), "(shut off)"));
            wait.until(ExpectedConditions.textToBe(By.id("status"), "save g: done"));
            System.out.printf("PageLifecycleIT: save through the page %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            assertThat(state).isRegularFile();
            @SuppressWarnings("unchecked")
            List<List<Object>> bar = (List<List<Object>>) browser.executeScript("return window.seen;");
            System.out.println("PageLifecycleIT: progress bar values during save " + bar);
            // The bar was fed by the job's progress events: shown, at points of QEMU's total, never
            // backwards, and full at the save's end. How many points come before the end depends
            // on the machine: this guest's stream took 0.1-0.2 s here, and QEMU's figures are read
            // twenty times a second (CI once saw one point in a run that asked for two).
            List<Long> values = bar.stream().map(v -> ((Number) v.get(0)).longValue()).toList();
            assertThat(bar).isNotEmpty()
                    .allSatisfy(v -> assertThat((Boolean) v.get(2)).as("shown").isTrue())
                    .allSatisfy(v -> assertThat(((Number) v.get(0)).longValue()).isPositive()
                            .isLessThanOrEqualTo(((Number) v.get(1)).longValue()));
            assertThat(values).isSorted();
            assertThat(((Number) bar.getLast().get(0)).longValue()).as("full at the end")
                    .isEqualTo(((Number) bar.getLast().get(1)).longValue());
            assertThat(browser.findElement(By.id("progress")).getAttribute("class")).as("hidden at the end")
                    .isEqualTo("hidden");
            shot(browser, "saved");

            wait.until(ExpectedConditions.elementToBeClickable(By.id("act-restore"))).click();
            Alert from = wait.until(ExpectedConditions.alertIsPresent());
            from.sendKeys(state.toString());
            from.accept();
            wait.until(ExpectedConditions.textToBe(By.id("domain-state"), "(running)"));
            wait.until(ExpectedConditions.textToBe(By.id("status"), "restore " + state + ": done"));
            assertThat(domains.status("g").state().words()).isEqualTo("running");
            shot(browser, "restored");

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
