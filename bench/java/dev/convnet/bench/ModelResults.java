package dev.convnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Whole-model times from one JSON-lines file: one line per peer ({@code convnet}, {@code ort}, {@code torch}),
 * model and batch, as {@code bench/torch_peer.py}, {@link OrtPeer} and convnet's own model runner print them. Each peer's
 * output was checked against the PyTorch reference output before its line was written.
 */
final class ModelResults {
    private record Key(String model, int batch) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = model.compareTo(o.model);
            return c != 0 ? c : Integer.compare(batch, o.batch);
        }
    }

    private final Map<String, Map<Key, Long>> medianNs = new LinkedHashMap<>();
    private final String missing;

    private ModelResults(String missing) {
        this.missing = missing;
    }

    /** Reads {@code file}; a missing file gives empty results that say so. */
    static ModelResults load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return new ModelResults("no model timings (" + file + " is missing: run `make bench`, which exports the models"
                    + " with PyTorch and times convnet, ONNX Runtime and PyTorch on them)");
        }
        ModelResults r = new ModelResults(null);
        for (String line : Files.readAllLines(file)) {
            Map<String, String> m = SideBySide.json(line);
            if (!m.containsKey("peer") || !m.containsKey("median_ns")) continue;
            r.medianNs.computeIfAbsent(m.get("peer"), k -> new LinkedHashMap<>())
                    .put(new Key(m.get("model"), Integer.parseInt(m.get("batch"))), Long.parseLong(m.get("median_ns")));
        }
        return r;
    }

    /** Geometric mean over the models at batch 1 of the peer's time / convnet's time, or {@code n/a}. */
    String ratio(String peer) {
        return ratio(peer, 1);
    }

    /** Geometric mean over the models at {@code batch} of the peer's time / convnet's time, or {@code n/a}. */
    String ratio(String peer, int batch) {
        Map<Key, Long> ours = medianNs.get("convnet");
        Map<Key, Long> theirs = medianNs.get(peer);
        if (ours == null || theirs == null) return "n/a";
        List<Double> logs = new ArrayList<>();
        for (var e : theirs.entrySet()) {
            Long o = ours.get(e.getKey());
            if (e.getKey().batch() == batch && o != null) logs.add(Math.log((double) e.getValue() / o));
        }
        return logs.isEmpty() ? "n/a"
                : String.format(Locale.ROOT, "%.3f", Math.exp(logs.stream().mapToDouble(d -> d).average().orElseThrow()));
    }

    /** The models table (ms per run, median), or the reason there is none. */
    String markdown() {
        if (missing != null) return "Models: " + missing + ".\n";
        List<String> peers = new ArrayList<>(medianNs.keySet());
        TreeSet<Key> keys = new TreeSet<>();
        medianNs.values().forEach(m -> keys.addAll(m.keySet()));
        StringBuilder sb = new StringBuilder("| model | batch | " + String.join(" (ms) | ", peers) + " (ms) |\n|---|---|");
        sb.append("---|".repeat(peers.size())).append('\n');
        for (Key k : keys) {
            sb.append("| ").append(k.model()).append(" | ").append(k.batch()).append(" |");
            for (String p : peers) {
                Long v = medianNs.get(p).get(k);
                sb.append(v == null ? " |" : String.format(Locale.ROOT, " %.2f |", v / 1e6));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The same as a JSON array. */
    String json() {
        List<String> items = new ArrayList<>();
        for (var p : medianNs.entrySet()) {
            for (var e : p.getValue().entrySet()) {
                items.add(String.format(Locale.ROOT, "{\"peer\": \"%s\", \"model\": \"%s\", \"batch\": %d, \"median_ns\": %d}",
                        p.getKey(), e.getKey().model(), e.getKey().batch(), e.getValue()));
            }
        }
        return "[" + String.join(", ", items) + "]";
    }
}
