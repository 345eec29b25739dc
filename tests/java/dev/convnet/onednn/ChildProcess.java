package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A child process whose output is read as it comes (so a test can wait for a line), for the tests that run
 * convnet the way users do: other JVMs, Maven, a separate project.
 */
final class ChildProcess {
    private final List<String> command;
    private final Process process;
    private final List<String> out = new CopyOnWriteArrayList<>();
    private final List<String> err = new CopyOnWriteArrayList<>();
    private final Thread outReader, errReader;

    private ChildProcess(List<String> command, Process process) {
        this.command = List.copyOf(command);
        this.process = process;
        this.outReader = Thread.ofVirtual().start(() -> drain(process.getInputStream(), out));
        this.errReader = Thread.ofVirtual().start(() -> drain(process.getErrorStream(), err));
    }

    /**
     * Starts {@code command} in {@code dir} with this JVM's environment minus every {@code CONVNET_*} variable and
     * {@code XDG_CACHE_HOME}, plus {@code env}; stdin is empty.
     */
    static ChildProcess start(Path dir, Map<String, String> env, List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("CONVNET_") || k.equals("XDG_CACHE_HOME"));
        pb.environment().putAll(env);
        try {
            return new ChildProcess(command, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    /** Runs {@code command} to the end (at most {@code seconds}) and returns it. */
    static ChildProcess run(Path dir, Map<String, String> env, int seconds, List<String> command) {
        return start(dir, env, command).await(seconds);
    }

    /** The java launcher of this JVM. */
    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Waits until it exits (at most {@code seconds}, else it is killed and the test fails). */
    ChildProcess await(int seconds) {
        try {
            boolean done = process.waitFor(seconds, TimeUnit.SECONDS);
            if (!done) process.destroyForcibly();
            outReader.join();
            errReader.join();
            assertTrue(done, "still running after " + seconds + " s, killed: " + this);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return this;
    }

    /** Waits until a line of stderr matches (at most {@code seconds}); false if none did. */
    boolean awaitErrLine(Predicate<String> match, int seconds) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            if (err.stream().anyMatch(match)) return true;
            if (!process.isAlive() && !errReader.isAlive()) return err.stream().anyMatch(match);
            Thread.sleep(20);
        }
        return false;
    }

    int exitValue() {
        return process.exitValue();
    }

    String out() {
        return String.join("\n", out);
    }

    String err() {
        return String.join("\n", err);
    }

    List<String> outLines() {
        return new ArrayList<>(out);
    }

    /** The value of the first stdout line {@code key=value}, or null. */
    String value(String key) {
        return out.stream().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1)).findFirst().orElse(null);
    }

    @Override
    public String toString() {
        return String.join(" ", command) + "\n--- exit " + (process.isAlive() ? "(running)" : process.exitValue())
                + "\n--- stdout\n" + out() + "\n--- stderr\n" + err();
    }

    private static void drain(InputStream in, List<String> lines) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) lines.add(line);
        } catch (IOException e) {
            lines.add("(reading failed: " + e + ")");
        }
    }
}
