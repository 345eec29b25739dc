package dev.convnet.cli;

import dev.convnet.Lecture;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code convnet lecture}: the lecture's worked examples, computed by the library. */
@Command(name = "lecture", description = "Compute the lecture's 1-D convolution examples and the [3, 32, 32] layer summary.")
final class LectureCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(Lecture.report());
        spec.commandLine().getOut().flush();
        return 0;
    }
}
