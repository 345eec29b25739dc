package dev.convnet.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code convnet} command line: {@code convnet info}, and the subcommands the other issues add.
 * Exit status: 0 on success, 1 when a demanded backend cannot be used (or an ONNX test case fails), 2 for bad
 * input (a malformed or unsupported model, shapes that do not fit, a file that cannot be read), with a one-line
 * message on stderr and no stack trace.
 */
@Command(name = "convnet", mixinStandardHelpOptions = true, version = "convnet 0.1.0",
        description = "ConvNets on the CPU from Java: oneDNN through the FFM API, with pure-Java fallback kernels.",
        subcommands = {InfoCommand.class, LectureCommand.class, DemoCommand.class, OnnxTestCommand.class, InspectCommand.class,
                RunCommand.class, BenchCommand.class, TrainCommand.class, EvalCommand.class, TransferCommand.class, QuantizeCommand.class, CommandLine.HelpCommand.class})
public final class ConvnetCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Runs the command line and exits with its status. */
    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit status (for tests). */
    public static int execute(String... args) {
        return execute(null, null, args);
    }

    /**
     * Runs the command line with its output and error messages going to the given writers (null: standard output and
     * error) and returns its exit status; for programs that run commands in-process and read what they print.
     */
    public static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new ConvnetCommand());
        if (out != null) cl.setOut(out);
        if (err != null) cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            line.getErr().println("convnet: " + (ex instanceof java.nio.file.NoSuchFileException n ? "no such file: " + n.getFile()
                    : ex.getMessage()));
            return ex instanceof IllegalArgumentException || ex instanceof java.io.IOException
                    || ex instanceof java.io.UncheckedIOException ? 2 : 1;
        });
        return cl.execute(args);
    }
}
