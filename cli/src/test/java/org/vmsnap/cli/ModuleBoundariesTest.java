package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Opens;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.lang.module.ResolvedModule;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CompressionCodec;

/**
 * The module boundaries hold by construction: each vmsnap module's compiled descriptor exports
 * exactly its API packages (the engine's and the manager's machinery stay inside), the whole
 * graph resolves, and javac refuses a module that imports a hidden class. The tests themselves
 * run on the class path, so they read the descriptors the build wrote rather than relying on
 * the test run to enforce anything.
 */
class ModuleBoundariesTest {

    /** A class of each module (by name: some of them are not visible to this module). */
    private static final Map<String, String> MODULES = Map.of(
            "org.vmsnap.qcow2", "org.vmsnap.qcow2.Qcow2Image",
            "org.vmsnap.qmp", "org.vmsnap.qmp.QmpClient",
            "org.vmsnap.manager", "org.vmsnap.manager.DomainService",
            "org.vmsnap.server", "org.vmsnap.server.VmsnapServer",
            "org.vmsnap.cli", "org.vmsnap.cli.Main",
            "org.vmsnap.testkit", "org.vmsnap.testkit.TestGuest",
            "info.picocli", "picocli.CommandLine");

    /** The third-party modules the graph needs. */
    private static final List<String> LIBRARIES = List.of(
            "com.fasterxml.jackson.databind.ObjectMapper",
            "com.fasterxml.jackson.core.JsonFactory",
            "com.fasterxml.jackson.annotation.JsonProperty",
            "com.github.luben.zstd.Zstd",
            // Jetty: the server's UNIX-socket transport, and the modules it requires.
            "org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector",
            "org.eclipse.jetty.server.Server",
            "org.eclipse.jetty.http.HttpHeader",
            "org.eclipse.jetty.io.Content",
            "org.eclipse.jetty.util.Callback",
            "org.slf4j.Logger");

    private static final Map<String, Path> locations = new TreeMap<>();
    private static final List<Path> modulePath = new ArrayList<>();
    private static ModuleFinder finder;

    @BeforeAll
    static void findModules() throws Exception {
        for (Map.Entry<String, String> m : MODULES.entrySet()) {
            locations.put(m.getKey(), location(Class.forName(m.getValue())));
        }
        // zstd exports nothing: it is found the way the engine finds it, as a codec service.
        for (CompressionCodec codec : ServiceLoader.load(CompressionCodec.class)) {
            if (codec.getClass().getName().startsWith("org.vmsnap.zstd.")) {
                locations.put("org.vmsnap.zstd", location(codec.getClass()));
            }
        }
        assertThat(locations).containsKey("org.vmsnap.zstd");
        modulePath.addAll(locations.values());
        for (String c : LIBRARIES) {
            modulePath.add(location(Class.forName(c)));
        }
        finder = ModuleFinder.of(modulePath.toArray(Path[]::new));
    }

    private static Path location(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static ModuleDescriptor descriptor(String module) {
        ModuleReference ref = ModuleFinder.of(locations.get(module)).find(module)
                .orElseThrow(() -> new AssertionError("no module " + module + " in " + locations.get(module)));
        assertThat(ref.descriptor().isAutomatic()).as(module + " has a module-info").isFalse();
        return ref.descriptor();
    }

    private static Set<String> exported(ModuleDescriptor d) {
        return d.exports().stream().map(Exports::source).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void eachModuleExportsExactlyItsApiPackages() {
        Map<String, Set<String>> api = Map.of(
                "org.vmsnap.qcow2", Set.of("org.vmsnap.qcow2"),
                "org.vmsnap.qmp", Set.of("org.vmsnap.qmp", "org.vmsnap.qmp.hw"),
                "org.vmsnap.zstd", Set.of(),
                "org.vmsnap.manager", Set.of("org.vmsnap.manager", "org.vmsnap.manager.xml"),
                "org.vmsnap.server", Set.of("org.vmsnap.server"),
                "org.vmsnap.cli", Set.of(),
                "org.vmsnap.testkit", Set.of("org.vmsnap.testkit"));
        for (Map.Entry<String, Set<String>> m : api.entrySet()) {
            ModuleDescriptor d = descriptor(m.getKey());
            assertThat(exported(d)).as(m.getKey() + " exports").isEqualTo(new TreeSet<>(m.getValue()));
            // No qualified export: a package is API for everyone or for no one.
            assertThat(d.exports()).as(m.getKey() + " qualified exports").noneMatch(Exports::isQualified);
            assertThat(d.isOpen()).as(m.getKey() + " is an open module").isFalse();
        }
    }

    @Test
    void theMachineryPackagesExistAndStayInside() {
        ModuleDescriptor qcow2 = descriptor("org.vmsnap.qcow2");
        assertThat(qcow2.packages()).contains("org.vmsnap.qcow2.engine", "org.vmsnap.qcow2.format",
                "org.vmsnap.qcow2.io");
        assertThat(qcow2.requires()).extracting(ModuleDescriptor.Requires::name).containsExactly("java.base");
        ModuleDescriptor manager = descriptor("org.vmsnap.manager");
        assertThat(manager.packages()).contains("org.vmsnap.manager.live", "org.vmsnap.manager.plan",
                "org.vmsnap.manager.store");
        for (String module : locations.keySet()) {
            if (module.startsWith("org.vmsnap.")) {
                assertThat(exported(descriptor(module))).as(module)
                        .doesNotContain("org.vmsnap.qcow2.engine", "org.vmsnap.qcow2.format", "org.vmsnap.qcow2.io",
                                "org.vmsnap.manager.live", "org.vmsnap.manager.plan", "org.vmsnap.manager.store");
            }
        }
    }

    @Test
    void theTestDoublesAreNotInTheEngine() throws IOException {
        Path qcow2 = locations.get("org.vmsnap.qcow2");
        for (String c : List.of("FaultyBlockStore", "MemoryBlockStore")) {
            String entry = "org/vmsnap/qcow2/io/" + c + ".class";
            if (Files.isDirectory(qcow2)) {
                assertThat(qcow2.resolve(entry)).doesNotExist();
            } else {
                try (var jar = new java.util.jar.JarFile(qcow2.toFile())) {
                    assertThat(jar.getEntry(entry)).as(entry).isNull();
                }
            }
        }
    }

    @Test
    void reflectionIsOpenedOnlyToWhoNeedsIt() {
        // Jackson binds the server's request records; picocli fills the commands' fields.
        assertThat(opens(descriptor("org.vmsnap.server")))
                .isEqualTo(Map.of("org.vmsnap.server", Set.of("com.fasterxml.jackson.databind")));
        assertThat(opens(descriptor("org.vmsnap.cli"))).isEqualTo(Map.of(
                "org.vmsnap.cli", Set.of("info.picocli"),
                "org.vmsnap.cli.img", Set.of("info.picocli"),
                "org.vmsnap.cli.virsh", Set.of("info.picocli")));
        for (String module : List.of("org.vmsnap.qcow2", "org.vmsnap.qmp", "org.vmsnap.zstd",
                "org.vmsnap.manager", "org.vmsnap.testkit")) {
            assertThat(descriptor(module).opens()).as(module).isEmpty();
        }
    }

    private static Map<String, Set<String>> opens(ModuleDescriptor d) {
        Map<String, Set<String>> m = new TreeMap<>();
        for (Opens o : d.opens()) {
            assertThat(o.isQualified()).as(d.name() + " opens " + o.source() + " to everyone").isTrue();
            m.put(o.source(), o.targets());
        }
        return m;
    }

    @Test
    void theGraphResolvesAndTheEngineFindsZstdAsAService() {
        assertThat(descriptor("org.vmsnap.qcow2").uses()).containsExactly(CompressionCodec.class.getName());
        assertThat(descriptor("org.vmsnap.zstd").provides()).singleElement()
                .satisfies(p -> assertThat(p.service()).isEqualTo(CompressionCodec.class.getName()))
                .satisfies(p -> assertThat(p.providers()).containsExactly("org.vmsnap.zstd.ZstdClusterCodec"));
        Configuration graph = Configuration.empty().resolveAndBind(finder, ModuleFinder.ofSystem(),
                Set.of("org.vmsnap.cli"));
        Set<String> resolved = graph.modules().stream().map(ResolvedModule::name).collect(Collectors.toSet());
        // zstd is in the graph only because the engine uses the codec service.
        assertThat(resolved).contains("org.vmsnap.qcow2", "org.vmsnap.qmp", "org.vmsnap.manager",
                "org.vmsnap.server", "org.vmsnap.testkit", "info.picocli", "org.vmsnap.zstd");
        ResolvedModule cli = graph.findModule("org.vmsnap.cli").orElseThrow();
        assertThat(cli.reads()).extracting(ResolvedModule::name)
                .doesNotContain("org.vmsnap.qmp", "org.vmsnap.zstd", "org.eclipse.jetty.server");
        // Jetty is the server's own business (its UNIX-socket transport): nothing passes it on.
        assertThat(graph.findModule("org.vmsnap.server").orElseThrow().reads()).extracting(ResolvedModule::name)
                .contains("org.eclipse.jetty.unixdomain.server", "jdk.httpserver");
    }

    @Test
    void javacRefusesAnImportOfHiddenMachinery(@TempDir Path dir) throws IOException {
        assertThat(compileProbe(dir.resolve("api"), "org.vmsnap.qcow2", "org.vmsnap.qcow2.Qcow2Image"))
                .as("an API import compiles").isEmpty();
        assertThat(compileProbe(dir.resolve("engine"), "org.vmsnap.qcow2", "org.vmsnap.qcow2.engine.Qcow2Engine"))
                .contains("package org.vmsnap.qcow2.engine is not visible", "does not export it");
        assertThat(compileProbe(dir.resolve("io"), "org.vmsnap.qcow2", "org.vmsnap.qcow2.io.BlockStore"))
                .contains("package org.vmsnap.qcow2.io is not visible", "does not export it");
        assertThat(compileProbe(dir.resolve("plan"), "org.vmsnap.manager", "org.vmsnap.manager.plan.PlanRunner"))
                .contains("package org.vmsnap.manager.plan is not visible", "does not export it");
        assertThat(compileProbe(dir.resolve("live"), "org.vmsnap.manager", "org.vmsnap.manager.live.LiveExecutor"))
                .contains("package org.vmsnap.manager.live is not visible", "does not export it");
        // Requiring the manager does not give qmp: the manager keeps QEMU behind its API.
        assertThat(compileProbe(dir.resolve("qmp"), "org.vmsnap.manager", "org.vmsnap.qmp.QmpClient"))
                .contains("package org.vmsnap.qmp is not visible");
    }

    /** Compiles a module that requires {@code module} and imports {@code type}; returns javac's errors. */
    private static String compileProbe(Path dir, String module, String type) throws IOException {
        Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("probe"));
        Files.writeString(src.resolve("module-info.java"), "module probe { requires " + module + "; }\n");
        Files.writeString(src.resolve("probe/Probe.java"),
                "package probe;\nimport " + type + ";\nclass Probe { " + type.substring(type.lastIndexOf('.') + 1)
                        + " field; }\n");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        String path = modulePath.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
        // An empty class path: javac in process would otherwise see this test's class path,
        // where every package is in the unnamed module.
        Path emptyClassPath = Files.createDirectories(dir.resolve("empty"));
        boolean ok = javac.run(null, errors, errors, "-proc:none", "-Xlint:none", "--module-path", path,
                "--class-path", emptyClassPath.toString(),
                "-d", dir.resolve("out").toString(),
                src.resolve("module-info.java").toString(), src.resolve("probe/Probe.java").toString()) == 0;
        return ok ? "" : errors.toString(StandardCharsets.UTF_8);
    }
}
