package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * convnet as a new user meets it (issue 11): {@code mvn install}, a separate Maven project ({@code tests/consumer})
 * that depends on {@code dev.convnet:convnet}, copied with its runtime dependencies into a folder away from the
 * checkout and run there, on the class path and on the module path. oneDNN must come from the jar (no build tree, no
 * system library, no environment variable), no JVM warning may appear, and the outputs must equal the in-tree run.
 *
 * <p>The artifact goes into a throw-away local repository ({@code target/it/repo}); the consumer's build resolves
 * everything else from the user's local repository, as a {@code file:} mirror, so it needs no network.
 */
class ConsumerProjectIT {
    private static final Path CHECKOUT = Path.of("").toAbsolutePath();
    private static final Path IT = CHECKOUT.resolve("target/it");
    private static final String VERSION = System.getProperty("convnet.it.version");

    private static Path property(String name) {
        String v = System.getProperty(name);
        assertNotNull(v, name + " is set by Failsafe (pom.xml)");
        return Path.of(v);
    }

    private static List<String> mvn(String... args) {
        List<String> cmd = new ArrayList<>(List.of(property("convnet.it.mavenHome").resolve("bin/mvn").toString(), "-B", "-q"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static Map<String, String> mavenEnv() {
        return Map.of("JAVA_HOME", System.getProperty("java.home"), "MAVEN_OPTS", "-Xmx512m");
    }

    @Test
    void aProjectThatDependsOnTheArtifactRunsOnOneDnnFromTheJarAwayFromTheCheckout(@TempDir Path away) throws IOException {
        // 1. install the artifact, as `mvn install` would, into a throw-away local repository
        Path repo = IT.resolve("repo");
        NativeCache.deleteRecursively(IT);
        Files.createDirectories(repo);
        ChildProcess install = ChildProcess.run(CHECKOUT, mavenEnv(), 300, mvn(
                "org.apache.maven.plugins:maven-install-plugin:3.1.2:install-file",
                "-Dfile=" + property("convnet.it.jar"), "-DpomFile=" + property("convnet.it.pom"),
                "-DlocalRepositoryPath=" + repo));
        assertEquals(0, install.exitValue(), install.toString());
        assertTrue(Files.isRegularFile(repo.resolve("dev/convnet/convnet/" + VERSION + "/convnet-" + VERSION + ".jar")));

        // 2. build the consumer against it; everything else comes from the user's local repository
        Path consumer = IT.resolve("consumer");
        copyTree(CHECKOUT.resolve("tests/consumer"), consumer);
        Path settings = Files.writeString(IT.resolve("settings.xml"), """
                <settings>
                  <localRepository>%s</localRepository>
                  <mirrors>
                    <mirror><id>user-local-repository</id><mirrorOf>*</mirrorOf><url>%s</url></mirror>
                  </mirrors>
                </settings>
                """.formatted(repo, property("convnet.it.localRepository").toUri()));
        ChildProcess build = ChildProcess.run(consumer, mavenEnv(), 300,
                mvn("-s", settings.toString(), "-Dconvnet.version=" + VERSION, "package"));
        assertEquals(0, build.exitValue(), build.toString());
        Path built = consumer.resolve("target");
        List<String> deps = list(built.resolve("lib"));
        assertTrue(deps.contains("convnet-" + VERSION + ".jar"), deps.toString());
        assertTrue(deps.stream().noneMatch(d -> d.contains("javacpp") || d.contains("dnnl") || d.contains("opencl")),
                "no JavaCPP artifact travels: " + deps);

        // 3. copy the application into a folder that cannot reach the checkout, and run it there
        Path app = Files.createDirectories(away.resolve("app"));
        Path lib = Files.createDirectories(app.resolve("lib"));
        copyTree(built.resolve("lib"), lib);
        Files.copy(built.resolve("convnet-consumer-1.jar"), app.resolve("consumer.jar"));
        Path home = Files.createDirectories(away.resolve("home"));
        String folder = NativeBundle.index(NativeBundle.loader(), "linux-x86_64").folderName();
        String expectedLibrary = "library=" + home.resolve(".cache/convnet").resolve(folder).resolve("libdnnl.so.3")
                + " (" + OneDnnLoader.SOURCE_CLASS_PATH + ")";

        ChildProcess classPath = ChildProcess.run(app, Map.of("HOME", home.toString()), 300, List.of(ChildProcess.java(),
                "--enable-native-access=ALL-UNNAMED", "-Duser.home=" + home, "-cp", "consumer.jar:lib/*", "example.service.Main"));
        assertEquals(0, classPath.exitValue(), classPath.toString());
        assertEquals("onednn", classPath.value("backend"), classPath.toString());
        assertTrue(classPath.outLines().contains(expectedLibrary), classPath.toString());
        assertFalse(classPath.err().contains("WARNING"), "no JVM or loader warning: " + classPath);
        assertFalse(classPath.out().contains(CHECKOUT.toString()), "nothing from the checkout: " + classPath);

        // the same application with convnet and its dependencies on the module path
        ChildProcess modulePath = ChildProcess.run(app, Map.of("HOME", home.toString()), 300, List.of(ChildProcess.java(),
                "--enable-native-access=dev.convnet", "-Duser.home=" + home, "--module-path", "lib",
                "--add-modules", "dev.convnet", "-cp", "consumer.jar", "example.service.Main"));
        assertEquals(0, modulePath.exitValue(), modulePath.toString());
        assertEquals("onednn", modulePath.value("backend"), modulePath.toString());
        assertTrue(modulePath.outLines().contains(expectedLibrary), modulePath.toString());
        assertFalse(modulePath.err().contains("WARNING"), "no JVM or loader warning: " + modulePath);

        // on the module path with the Java backend and the Vector API module: convnet reads jdk.incubator.vector
        // (requires static) and its Java kernels run on it
        ChildProcess vector = ChildProcess.run(app, Map.of("HOME", home.toString()), 300, List.of(ChildProcess.java(),
                "--enable-native-access=dev.convnet", "-Duser.home=" + home, "-Dconvnet.backend=java", "--module-path", "lib",
                "--add-modules", "dev.convnet,jdk.incubator.vector", "-cp", "consumer.jar", "example.service.Main"));
        assertEquals(0, vector.exitValue(), vector.toString());
        assertEquals("java", vector.value("backend"), vector.toString());
        assertTrue(vector.err().contains("Java kernels: Vector API"), "the vector kernels load on the module path: " + vector);
        assertNotNull(vector.value("network"), vector.toString());

        // 4. the in-tree run: the same program on target/classes with the library the build unpacked
        String inTreeClassPath = built.resolve("classes") + ":" + CHECKOUT.resolve("target/classes") + ":"
                + Files.readString(CHECKOUT.resolve("target/test-classpath.txt")).strip();
        ChildProcess inTree = ChildProcess.run(CHECKOUT, Map.of(), 300, List.of(ChildProcess.java(),
                "--enable-native-access=ALL-UNNAMED", "-Dconvnet.onednn.library=" + CHECKOUT.resolve("target/native/linux-x86_64"),
                "-cp", inTreeClassPath, "example.service.Main"));
        assertEquals(0, inTree.exitValue(), inTree.toString());
        assertEquals("onednn", inTree.value("backend"), inTree.toString());
        assertNotNull(inTree.value("network"), inTree.toString());
        for (String key : List.of("network", "onnx")) {
            assertEquals(inTree.value(key), classPath.value(key), key + ": the jar's oneDNN computes what the build's does");
            assertEquals(inTree.value(key), modulePath.value(key), key + " on the module path");
        }
        assertEquals(inTree.value("network"), inTree.value("onnx"), "the exported and re-imported model computes the same");
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path rel = from.relativize(p);
                if (rel.startsWith("target")) continue;
                Path q = to.resolve(rel.toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
