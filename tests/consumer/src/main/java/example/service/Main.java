package example.service;

import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onednn.OneDnn;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * What a service does with convnet: build a small network, run it, save it as ONNX, load that file and run it again;
 * print the backend, where oneDNN came from, and both outputs (exactly: Float.toString round-trips).
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        Shape batch = Shape.of(1, 3, 32, 32);
        Network net = LecturePattern.builder(Shape.of(3, 32, 32)).convsPerBlock(1).blocks(2).blockChannels(8, 16)
                .hiddenLayers(1).hiddenUnits(32).classes(10).seed(11).build();
        float[] x = new float[3 * 32 * 32];
        for (int i = 0; i < x.length; i++) x[i] = ((i * 37) % 101) / 50f - 1f;
        SessionOptions options = SessionOptions.defaults().withThreads(1);
        try (Session s = net.compile(batch, options)) {
            System.out.println("backend=" + s.backend().name().toLowerCase(Locale.ROOT));
            System.out.println("network=" + Arrays.toString(s.run(x)));
        }
        Path model = Files.createTempFile("convnet-consumer", ".onnx");
        try {
            OnnxExporter.save(net.toGraph(), batch, model);
            try (Session s = OnnxImporter.load(model).compile(options)) {
                System.out.println("onnx=" + Arrays.toString(s.run(x)));
            }
        } finally {
            Files.delete(model);
        }
        OneDnn.info().ifPresent(i -> System.out.println("library=" + i.libraryPath() + " (" + i.source() + ")"));
    }
}
