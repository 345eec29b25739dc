package dev.convnet.train;

import dev.convnet.data.Dataset;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trainer's listeners: history files, early stopping, plain progress lines. */
class ListenersTest {
    @TempDir
    Path dir;

    @Test
    void historyFilesEarlyStoppingAndProgressLines() throws Exception {
        Dataset data = TrainerTest.random(32, 3, 1);
        Graph g = TrainerTest.network(3);
        Path csv = dir.resolve("h.csv");
        Path png = dir.resolve("h.png");
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        try (ParameterSet p = ParameterSet.of(g);
             EarlyStopping stop = new EarlyStopping(2, 10.0, true);
             Trainer t = Trainer.builder(g, p).optimizer(Optimizer.sgd(0.0)).batchSize(8).backend(BackendKind.JAVA)
                     .listener(new ProgressListener(new PrintStream(text, true, StandardCharsets.UTF_8), false, 2))
                     .listener(new HistoryFiles(csv, png, "test")).listener(stop).build()) {
            History h = t.fit(data, data, 10);
            assertEquals(3, h.epochs().size(), "no epoch improves by 10: epoch 1 is best, 2 more and it stops");
            assertEquals(1, stop.bestEpoch());
        }
        List<String> lines = Files.readAllLines(csv);
        assertEquals(4, lines.size());
        assertTrue(lines.getFirst().startsWith("epoch,train_loss,train_accuracy,validation_loss"), lines.getFirst());
        assertTrue(lines.get(1).startsWith("1,"), lines.get(1));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(1120, img.getWidth());
        assertEquals(400, img.getHeight());
        String out = text.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("epoch 1 [2/4] loss=") && out.contains("epoch 3: loss="), out);
    }
}
