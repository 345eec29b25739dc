package dev.convnet.internal.onnx;

import dev.convnet.internal.onnx.ops.StandardConverters;
import dev.convnet.onnx.OnnxUnsupportedException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The converters of the importer, keyed by (operation, opset range) in the default ONNX domain: the registry picks
 * the converter for a node's operation at the model's opset, so converters hold no opset branches. A missing one
 * names the operation, the opset and the ranges that do exist. Built once ({@link #standard()}); the operations
 * themselves live one family per file in {@code dev.convnet.internal.onnx.ops}. Internal.
 *
 * <p>Thread-safety: immutable once built (registration happens in the builder).
 */
public final class ConverterRegistry {
    /** The last opset of an open-ended range. */
    public static final int LATEST = Integer.MAX_VALUE;

    /** One registration: {@code converter} for opsets {@code since}–{@code until}, inclusive. */
    private record Entry(int since, int until, Converter converter) {
        String range() {
            return until == LATEST ? since + "+" : since == until ? Integer.toString(since) : since + "–" + until;
        }
    }

    private final Map<String, List<Entry>> byOperation;

    private ConverterRegistry(Map<String, List<Entry>> byOperation) {
        this.byOperation = byOperation;
    }

    private static final class Standard {
        static final ConverterRegistry INSTANCE = build();

        private static ConverterRegistry build() {
            Builder b = new Builder();
            StandardConverters.registerAll(b);
            return b.build();
        }
    }

    /** Every converter of the standard operation families. */
    public static ConverterRegistry standard() {
        return Standard.INSTANCE;
    }

    /**
     * The converter for {@code operation} at {@code opset}.
     *
     * @param node how to name the node in the message, e.g. {@code node 'conv1'}
     * @throws OnnxUnsupportedException naming the operation, the opset and the node if there is none
     */
    public Converter find(String operation, long opset, String node) {
        List<Entry> entries = byOperation.get(operation);
        if (entries != null) {
            for (Entry e : entries) {
                if (opset >= e.since() && opset <= e.until()) return e.converter();
            }
        }
        String known = entries == null ? "convnet has no converter for " + operation
                : "convnet converts " + operation + " at opsets " + String.join(", ", entries.stream().map(Entry::range).toList());
        throw new OnnxUnsupportedException(operation + " at opset " + opset + " is not supported (" + node + "); " + known);
    }

    /** The operations with a converter at {@code opset}, sorted. */
    public List<String> operations(long opset) {
        List<String> ops = new ArrayList<>();
        byOperation.forEach((op, entries) -> {
            if (entries.stream().anyMatch(e -> opset >= e.since() && opset <= e.until())) ops.add(op);
        });
        return ops;
    }

    /**
     * Collects registrations; ranges of one operation must not overlap.
     *
     * <p>Thread-safety: not thread-safe.
     */
    public static final class Builder {
        private final Map<String, List<Entry>> byOperation = new TreeMap<>();

        /** Registers {@code converter} for {@code operation} at opsets {@code since}–{@code until} (inclusive). */
        public Builder add(String operation, int since, int until, Converter converter) {
            if (since < 1 || until < since) throw new IllegalArgumentException(operation + ": bad opset range " + since + "–" + until);
            List<Entry> entries = byOperation.computeIfAbsent(operation, k -> new ArrayList<>());
            for (Entry e : entries) {
                if (since <= e.until() && e.since() <= until) {
                    throw new IllegalArgumentException(operation + ": opsets " + since + "–" + until + " overlap " + e.range());
                }
            }
            entries.add(new Entry(since, until, converter));
            entries.sort(java.util.Comparator.comparingInt(Entry::since));
            return this;
        }

        /** Registers {@code converter} for {@code operation} from opset {@code since} on. */
        public Builder add(String operation, int since, Converter converter) {
            return add(operation, since, LATEST, converter);
        }

        /** Registers {@code converter} for every opset of {@code operation} (from 1 on). */
        public Builder add(String operation, Converter converter) {
            return add(operation, 1, LATEST, converter);
        }

        /** The registry. */
        public ConverterRegistry build() {
            Map<String, List<Entry>> copy = new TreeMap<>();
            byOperation.forEach((k, v) -> copy.put(k, List.copyOf(v)));
            return new ConverterRegistry(java.util.Collections.unmodifiableMap(copy));
        }
    }
}
