package dev.convnet.cli;

import dev.convnet.internal.jvm.Vectorization;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.onednn.LoadAttempt;
import dev.convnet.onednn.OneDnn;
import dev.convnet.onednn.OneDnnInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code convnet info}: which backend runs, and what oneDNN was loaded from where. */
@Command(name = "info", description = "Print the backend, oneDNN's version, CPU ISA, runtime, threads, where it was loaded from"
        + " and the places passed over before it.")
final class InfoCommand implements Callable<Integer> {
    @Mixin
    BackendOption backend;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Backends.Choice choice = backend.resolve();
        OneDnnInfo i = choice.kind() == BackendKind.ONEDNN ? OneDnn.require() : null;
        out.printf("backend:      %s (%s)%n", choice.kind().name().toLowerCase(java.util.Locale.ROOT), choice.reason());
        if (i != null) {
            out.printf("oneDNN:       %s (git %s)%n", i.version(), i.gitHash());
            out.printf("CPU ISA:      %s%n", i.effectiveIsa());
            out.printf("CPU runtime:  %s%n", i.cpuRuntime());
            out.printf("threads:      %d%n", i.maxThreads());
            out.printf("library:      %s (%s)%n", i.libraryPath(), i.source());
            for (LoadAttempt a : OneDnn.failedAttempts()) out.printf("passed over:  %s%n", a);
        } else {
            out.printf("kernels:      %s%n", choice.kind() == BackendKind.JAVA
                    ? "pure Java (im2col + blocked SGEMM), " + Vectorization.describe()
                    : "pure Java reference (the lecture's equations as direct loops, double accumulation)");
            out.printf("threads:      %d%n", Runtime.getRuntime().availableProcessors());
            out.printf("JVM:          %s %s (%s)%n", System.getProperty("java.vm.name"),
                    System.getProperty("java.version"), System.getProperty("java.home"));
            out.printf("oneDNN:       not used (%s)%n", choice.forced() ? "backend forced" : "not available");
        }
        out.flush();
        return 0;
    }
}
