package dev.convnet;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The module {@code dev.convnet} exports every public package and nothing else: a package added under
 * {@code dev.convnet} must be exported (or be {@code internal}), and no internal, jextract or protoc package leaks.
 */
class ModuleDescriptorTest {
    private static final Path CLASSES = Path.of("target/classes");

    private static ModuleDescriptor descriptor() throws IOException {
        try (InputStream in = Files.newInputStream(CLASSES.resolve("META-INF/versions/25/module-info.class"))) {
            return ModuleDescriptor.read(in);
        }
    }

    /** The packages that hold classes in target/classes. */
    private static Set<String> packages() throws IOException {
        try (Stream<Path> walk = Files.walk(CLASSES.resolve("dev"))) {
            return walk.filter(p -> p.toString().endsWith(".class"))
                    .map(p -> CLASSES.relativize(p.getParent()).toString().replace('/', '.'))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void exportsThePublicPackagesOnly() throws IOException {
        ModuleDescriptor d = descriptor();
        assertEquals("dev.convnet", d.name());
        Set<String> hidden = Set.of("dev.convnet.onednn.bindings", "dev.convnet.onnx.proto");
        // Spark's jars cannot be modules (spark-sql_2.13 derives the invalid name spark.sql.2.13): the Spark transformer
        // is used on the class path only, and the module does not export it.
        Set<String> classPathOnly = Set.of("dev.convnet.spark");
        Set<String> expected = packages().stream()
                .filter(p -> !p.startsWith("dev.convnet.internal.") && !hidden.contains(p) && !classPathOnly.contains(p))
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> exported = d.exports().stream().peek(e -> assertFalse(e.isQualified(), e.toString()))
                .map(ModuleDescriptor.Exports::source).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, exported);
        assertTrue(packages().containsAll(hidden), "the generated packages exist and stay inside");
    }

    @Test
    void requiresOnlyTheRuntimeDependencies() throws IOException {
        Set<String> requires = descriptor().requires().stream()
                .filter(r -> !r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(Set.of("java.base", "java.desktop", "com.google.protobuf", "info.picocli", "me.tongfei.progressbar",
                "org.knowm.xchart"), requires);
    }

    /** The Vector API module is optional: read when the JVM loads it (--add-modules), never required to start. */
    @Test
    void theVectorModuleIsAnOptionalDependency() throws IOException {
        Set<String> optional = descriptor().requires().stream()
                .filter(r -> r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(Set.of("jdk.incubator.vector"), optional);
    }
}
