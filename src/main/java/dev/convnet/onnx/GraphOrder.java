package dev.convnet.onnx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Checks a graph's data flow and sorts its nodes topologically (Kahn's algorithm, taking the lowest file
 * index first, so a file already in order keeps its order). Stateless.
 */
final class GraphOrder {
    private GraphOrder() {}

    /**
     * @param nodes     the nodes in file order
     * @param available graph inputs and initializers
     * @return the nodes, each after the producers of its inputs
     * @throws OnnxFormatException for an input nothing produces, a name produced twice, or a cycle
     */
    static List<OnnxNode> order(List<OnnxNode> nodes, Set<String> available) {
        int n = nodes.size();
        Map<String, Integer> producer = new HashMap<>();
        for (int i = 0; i < n; i++) {
            for (String out : nodes.get(i).outputs()) {
                if (out.isEmpty()) continue;
                if (available.contains(out)) {
                    throw new OnnxFormatException(nodes.get(i).label(i) + " produces '" + out
                            + "', which is already a graph input or initializer");
                }
                Integer before = producer.putIfAbsent(out, i);
                if (before != null) {
                    throw new OnnxFormatException("'" + out + "' is produced by both " + nodes.get(before).label(before)
                            + " and " + nodes.get(i).label(i));
                }
            }
        }
        List<List<Integer>> consumers = new ArrayList<>(n);
        List<List<Integer>> producers = new ArrayList<>(n);
        int[] pending = new int[n];
        for (int i = 0; i < n; i++) {
            consumers.add(new ArrayList<>());
            producers.add(new ArrayList<>());
        }
        for (int i = 0; i < n; i++) {
            for (String in : nodes.get(i).inputs()) {
                if (in.isEmpty()) continue; // an absent optional input
                Integer p = producer.get(in);
                if (p != null) {
                    consumers.get(p).add(i);
                    producers.get(i).add(p);
                    pending[i]++;
                } else if (!available.contains(in)) {
                    throw new OnnxFormatException(nodes.get(i).label(i) + " reads '" + in
                            + "', which is not a graph input, an initializer or any node's output (a missing initializer?)");
                }
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < n; i++) if (pending[i] == 0) ready.add(i);
        List<OnnxNode> ordered = new ArrayList<>(n);
        boolean[] done = new boolean[n];
        while (!ready.isEmpty()) {
            int i = ready.poll();
            done[i] = true;
            ordered.add(nodes.get(i));
            for (int c : consumers.get(i)) {
                if (--pending[c] == 0) ready.add(c);
            }
        }
        if (ordered.size() < n) {
            throw new OnnxFormatException("the graph has a cycle: " + describeCycle(nodes, producers, done));
        }
        return ordered;
    }

    /**
     * Every node left over has a left-over producer; walking from producer to producer must come back to a
     * node already seen, and the walk from there on is a cycle.
     */
    private static String describeCycle(List<OnnxNode> nodes, List<List<Integer>> producers, boolean[] done) {
        int start = 0;
        while (done[start]) start++;
        Map<Integer, Integer> seenAt = new HashMap<>();
        List<Integer> path = new ArrayList<>();
        int cur = start;
        while (!seenAt.containsKey(cur)) {
            seenAt.put(cur, path.size());
            path.add(cur);
            int next = -1;
            for (int p : producers.get(cur)) {
                if (!done[p]) {
                    next = p;
                    break;
                }
            }
            cur = next; // always found: a left-over node still waits for a left-over producer
        }
        ArrayDeque<Integer> cycle = new ArrayDeque<>();
        for (int k = seenAt.get(cur); k < path.size(); k++) cycle.addFirst(path.get(k)); // producer before consumer
        StringBuilder sb = new StringBuilder();
        for (int i : cycle) sb.append(nodes.get(i).label(i)).append(" -> ");
        int first = cycle.getFirst();
        return sb.append(nodes.get(first).label(first)).toString();
    }
}
