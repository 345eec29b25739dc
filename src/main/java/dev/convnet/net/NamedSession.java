package dev.convnet.net;

import dev.convnet.shape.Shape;
import dev.convnet.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * A network session under a chain graph's input and output names. Thread-safety: as the session it wraps.
 */
final class NamedSession implements Session {
    private final Session delegate;
    private final String input;
    private final String output;
    private final GraphSummary plan;

    NamedSession(Session delegate, String input, String output, GraphSummary plan) {
        this.delegate = delegate;
        this.input = input;
        this.output = output;
        this.plan = plan;
    }

    @Override
    public BackendKind backend() {
        return delegate.backend();
    }

    @Override
    public NetworkSummary summary() {
        return delegate.summary();
    }

    @Override
    public GraphSummary graphSummary() {
        return plan;
    }

    @Override
    public Shape inputShape() {
        return delegate.inputShape();
    }

    @Override
    public Shape outputShape() {
        return delegate.outputShape();
    }

    @Override
    public List<String> inputNames() {
        return List.of(input);
    }

    @Override
    public List<String> outputNames() {
        return List.of(output);
    }

    @Override
    public Map<String, float[]> run(Map<String, float[]> inputs) {
        if (!new HashSet<>(inputNames()).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the session's inputs are " + inputNames());
        }
        return Map.of(output, delegate.run(inputs.get(input)));
    }

    @Override
    public Tensor run(Tensor in) {
        return delegate.run(in);
    }

    @Override
    public float[] run(float[] in) {
        return delegate.run(in);
    }

    @Override
    public void run(MemorySegment in, MemorySegment out) {
        delegate.run(in, out);
    }

    @Override
    public void run(float[] in, float[] out) {
        delegate.run(in, out);
    }

    @Override
    public String plan() {
        return delegate.plan();
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return delegate.toString();
    }
}
