package dev.convnet.bench;

import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A ResNet-18 (ImageNet shape, random weights) in Q/DQ form against its FP32 original, both on oneDNN: the int8
 * lowering's speed-up. The weights follow the shared int8 rule (per output channel symmetric, stored as w_q·scale) in
 * both graphs, so the two compute the same network; activations are calibrated crudely (min/max over a batch of
 * random inputs through the FP32 graph): after a ReLU u8 with zero point 0, the input u8 with a zero point, the
 * downsampling branches s8. Runs alternate between the two sessions so both see the same machine load:
 *
 * <pre>
 *   Int8Bench [--batch 8] [--threads 2] [--iters 20] [--warmup 3] [--profile]
 *   (after {@code make bench-classes}: java --enable-native-access=ALL-UNNAMED \
 *      -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) dev.convnet.bench.Int8Bench)
 * </pre>
 * With {@code ONEDNN_VERBOSE=profile_exec} oneDNN prints each primitive's time per run; the minimum per primitive
 * over the runs is the least load-dependent comparison on a shared machine.
 *
 * Prints both plans' int8 steps, the median and the fastest time per run of each with their ratios (on a shared
 * machine the fastest runs are the ones least disturbed by other load), how far the int8 logits are from the FP32
 * ones (top-1 agreement), and with {@code --profile} where the time goes in each.
 */
public final class Int8Bench {
    private Int8Bench() {}

    /** Builds ResNet-18; in Q/DQ form when {@code params} is not null, else records the tensors to calibrate. */
    static final class ResNet18 {
        final SplittableRandom random = new SplittableRandom(18);
        final Graph.Builder g = Graph.builder().input("x");
        final Map<String, QuantParams> params;
        /** Tensor → its kind: "relu" (u8, zp 0), "input" (u8 with zero point), "signed" (s8, zp 0). */
        final Map<String, String> calibrate = new LinkedHashMap<>();
        int n;

        ResNet18(Map<String, QuantParams> params) {
            this.params = params;
            build();
        }

        String node(dev.convnet.layer.Layer layer, String... in) {
            String name = "t" + n++;
            g.node(name, layer, in);
            return name;
        }

        /** Q then DQ of {@code t} (the DQ's output), or {@code t} itself in the FP32 graph. */
        String q(String t, String kind) {
            if (params == null) {
                calibrate.put(t, kind);
                return t;
            }
            return qdq(t, params.get(t));
        }

        /** Q and DQ named after the tensor, so the FP32 graph's tensor names stay the same in the Q/DQ graph. */
        String qdq(String t, QuantParams p) {
            g.node(t + "_q", QuantizeLinear.of(p), t);
            g.node(t + "_dq", DequantizeLinear.of(p), t + "_q");
            return t + "_dq";
        }

        /** The same parameters as the tensor {@code like} (pooling between DQ and Q). */
        String requantize(String t, String like) {
            return params == null ? t : qdq(t, params.get(like.substring(0, like.length() - 3)));
        }

        float[] weights(int out, int per) {
            float[] w = new float[out * per];
            double std = Math.sqrt(2.0 / per);
            for (int c = 0; c < out; c++) {
                float max = 0;
                for (int k = 0; k < per; k++) {
                    w[c * per + k] = (float) (random.nextGaussian() * std);
                    max = Math.max(max, Math.abs(w[c * per + k]));
                }
                float s = max == 0 ? 1f : max / 127f;
                for (int k = 0; k < per; k++) w[c * per + k] = (float) Math.rint(w[c * per + k] / s) * s;
            }
            return w;
        }

        float[] uniform(int n, double lo, double hi) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) random.nextDouble(lo, hi);
            return v;
        }

        String convBn(String in, int ic, int oc, int k, int stride) {
            String c = node(Conv2d.builder(ic, oc, k).stride(stride).padding(Padding.symmetric(k / 2))
                    .weights(weights(oc, ic * k * k)).withoutBias().build(), in);
            return node(BatchNorm.of(uniform(oc, 0.3, 0.7), uniform(oc, -0.1, 0.1), uniform(oc, -0.1, 0.1),
                    uniform(oc, 0.5, 1.5), 1e-5), c);
        }

        void build() {
            String x = q("x", "input");
            String t = q(node(Activation.relu(), convBn(x, 3, 64, 7, 2)), "relu");
            String pooled = node(MaxPool2d.builder(3, 3).stride(2).padding(Padding.symmetric(1)).build(), t);
            // max pooling between a DQ and a Q with the same parameters: it runs on the int8 tensor
            t = requantize(pooled, t);
            int ic = 64;
            for (int stage = 0; stage < 4; stage++) {
                int oc = 64 << stage;
                for (int block = 0; block < 2; block++) {
                    int stride = stage > 0 && block == 0 ? 2 : 1;
                    String identity = t;
                    if (stride != 1 || ic != oc) identity = q(convBn(t, ic, oc, 1, stride), "signed");
                    String a = q(node(Activation.relu(), convBn(t, ic, oc, 3, stride)), "relu");
                    String sum = node(Binary.add(), convBn(a, oc, oc, 3, 1), identity);
                    t = q(node(Activation.relu(), sum), "relu");
                    ic = oc;
                }
            }
            String gap = node(GlobalPool2d.average(), t);
            t = requantize(gap, t);
            String flat = node(new Flatten(), t);
            String logits = node(Linear.of(512, 1000, weights(1000, 512), uniform(1000, -0.1, 0.1)), flat);
            g.output(logits);
        }
    }

    public static void main(String[] args) {
        int batch = 8, threads = 2, iters = 20, warmup = 3;
        boolean profile = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--profile" -> profile = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Shape in = Shape.of(batch, 3, 224, 224);
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.max(-2.1, Math.min(2.6, r.nextGaussian()));
        SessionOptions onednn = SessionOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(threads);

        // Calibration: min/max of every tensor to quantize, through the FP32 graph.
        ResNet18 fp32 = new ResNet18(null);
        Graph fp32Graph = fp32.g.build();
        Graph.Builder probe = Graph.builder().input("x");
        for (Graph.Node node : fp32Graph.nodes()) probe.node(node.name(), node.layer(), node.inputs(), node.output());
        List<String> tensors = new ArrayList<>(fp32.calibrate.keySet());
        tensors.remove("x");
        probe.output(tensors.toArray(String[]::new));
        Map<String, QuantParams> params = new LinkedHashMap<>();
        Map<String, float[]> values;
        try (Session s = probe.build().compile(in, onednn)) {
            values = new java.util.HashMap<>(s.run(Map.of("x", x)));
        }
        values.put("x", x);
        for (var e : fp32.calibrate.entrySet()) {
            float min = 0, max = 0;
            for (float v : values.get(e.getKey())) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            QuantParams p = switch (e.getValue()) {
                case "relu" -> QuantParams.perTensor(Math.max(max, 1e-6f) / 255, 0, QuantParams.Type.UINT8);
                case "input" -> {
                    float scale = (max - min) / 255;
                    yield QuantParams.perTensor(scale, (int) Math.rint(-min / scale), QuantParams.Type.UINT8);
                }
                default -> QuantParams.perTensor(Math.max(-min, max) / 127, 0, QuantParams.Type.INT8);
            };
            params.put(e.getKey(), p);
        }
        ResNet18 qdq = new ResNet18(params);
        Graph qdqGraph = qdq.g.build();
        System.out.printf(Locale.ROOT, "ResNet-18, batch %d, %d threads: FP32 graph %d nodes, Q/DQ graph %d nodes%n", batch,
                threads, fp32Graph.nodes().size(), qdqGraph.nodes().size());
        try (Session f = fp32Graph.compile(in, onednn.withProfiling(profile));
             Session q = qdqGraph.compile(in, onednn.withProfiling(profile))) {
            String plan = q.plan();
            long int8Convs = plan.lines().filter(l -> l.contains(" convolution ") && l.contains("u8:")).count();
            System.out.println("int8 plan: " + int8Convs + " u8 convolutions, "
                    + plan.lines().filter(l -> l.contains(" inner_product ") && l.contains("u8:")).count() + " u8 inner product, "
                    + plan.lines().filter(l -> l.contains("java kernel")).count() + " Java steps");
            System.out.println(plan);
            Map<String, float[]> inputs = Map.of("x", x);
            for (int i = 0; i < warmup; i++) {
                f.run(inputs);
                q.run(inputs);
            }
            long[] tf = new long[iters], tq = new long[iters];
            float[] lf = null, lq = null;
            for (int i = 0; i < iters; i++) {
                long t0 = System.nanoTime();
                lf = f.run(inputs).values().iterator().next();
                long t1 = System.nanoTime();
                lq = q.run(inputs).values().iterator().next();
                long t2 = System.nanoTime();
                tf[i] = t1 - t0;
                tq[i] = t2 - t1;
            }
            Arrays.sort(tf);
            Arrays.sort(tq);
            double mf = tf[iters / 2] / 1e6, mq = tq[iters / 2] / 1e6;
            int agree = 0;
            double maxDiff = 0, maxLogit = 0;
            for (int b = 0; b < batch; b++) {
                int af = 0, aq = 0;
                for (int k = 0; k < 1000; k++) {
                    if (lf[b * 1000 + k] > lf[b * 1000 + af]) af = k;
                    if (lq[b * 1000 + k] > lq[b * 1000 + aq]) aq = k;
                    maxDiff = Math.max(maxDiff, Math.abs(lf[b * 1000 + k] - lq[b * 1000 + k]));
                    maxLogit = Math.max(maxLogit, Math.abs(lf[b * 1000 + k]));
                }
                if (af == aq) agree++;
            }
            double bf = tf[0] / 1e6, bq = tq[0] / 1e6;
            System.out.printf(Locale.ROOT, "median per run: FP32 %.1f ms, int8 %.1f ms; int8_vs_fp32 = %.2f (goal ≥ 2.5)%n", mf, mq,
                    mf / mq);
            System.out.printf(Locale.ROOT, "fastest run (least disturbed by other load): FP32 %.1f ms, int8 %.1f ms; ratio %.2f%n",
                    bf, bq, bf / bq);
            System.out.printf(Locale.ROOT, "logits: max |int8 − FP32| = %.3f (largest |logit| %.3f), top-1 agreement %d/%d%n",
                    maxDiff, maxLogit, agree, batch);
            if (profile) {
                System.out.println("FP32 profile:\n" + f.profile().table(12));
                System.out.println("int8 profile:\n" + q.profile().table(12));
            }
        }
    }
}
