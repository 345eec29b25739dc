/**
 * convnet: ConvNets on the CPU, on oneDNN through the FFM API or on pure-Java kernels.
 *
 * <p>Exports the public API only: shapes, tensors, layers, networks and sessions, oneDNN's status, ONNX import and
 * export, training, training data and the command line. Not exported: {@code dev.convnet.internal.*} (the backends'
 * kernels and sessions), {@code dev.convnet.onednn.bindings} (jextract's output) and {@code dev.convnet.onnx.proto}
 * (protoc's output).
 *
 * <p>oneDNN is called through restricted FFM methods, so a JVM that runs this module on the module path needs
 * {@code --enable-native-access=dev.convnet} (on the class path: {@code --enable-native-access=ALL-UNNAMED}); without
 * it the JVM prints a warning on the first native call. The native files travel inside this module's jar (see
 * {@code dev.convnet.onednn.OneDnn}).
 */
module dev.convnet {
    requires java.desktop;                 // ImageIO for PNG/JPEG datasets and charts
    requires com.google.protobuf;          // ONNX files
    requires info.picocli;                 // the command line
    requires me.tongfei.progressbar;       // the trainer's progress bar
    requires org.knowm.xchart;             // the trainer's history charts
    requires static jdk.incubator.vector;  // the Java backend's vector kernels, when the JVM loads the module

    exports dev.convnet;
    exports dev.convnet.cli;
    exports dev.convnet.data;
    exports dev.convnet.layer;
    exports dev.convnet.net;
    exports dev.convnet.onednn;
    exports dev.convnet.onnx;
    exports dev.convnet.quant;
    exports dev.convnet.shape;
    exports dev.convnet.tensor;
    exports dev.convnet.train;

    // picocli sets the commands' annotated fields; protobuf's reflective accessors read the generated messages
    opens dev.convnet.cli to info.picocli;
    opens dev.convnet.onnx.proto to com.google.protobuf;
}
