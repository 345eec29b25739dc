package dev.convnet.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.NodeProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads ONNX model files ({@code .onnx}, a serialized {@code ModelProto}) into an {@link OnnxModel}, with
 * the protobuf library and the classes generated from {@code src/main/proto/onnx_subset.proto}.
 *
 * <p>The reader is meant to be safe on untrusted files. Anything malformed or unsupported ends in an
 * {@link OnnxFormatException} naming the problem, never in another exception, an
 * {@link OutOfMemoryError} or a partial model:
 * <ul>
 *   <li>files over {@link #MAX_FILE_BYTES} (protobuf's own 2 GiB limit) are refused before reading;
 *       truncated or corrupted protobuf is refused with the protobuf error as the cause;</li>
 *   <li>every tensor's shape is checked before any array is allocated: no negative dimension, no 64-bit
 *       overflow of the element count, at most {@link #MAX_ELEMENTS} elements, and exactly as many bytes in
 *       {@code raw_data} (or values in {@code float_data}, {@code int64_data}, ...) as the shape needs;</li>
 *   <li>the graph must be acyclic (a cycle is refused with the nodes on it named), every node input must be
 *       a graph input, an initializer or another node's output (an empty input name is an absent optional
 *       input and is allowed), every name is produced at most once, and the nodes are returned in a
 *       topological order;</li>
 *   <li>external tensor data ({@code data_location = EXTERNAL}) is read only by {@link #read(Path)}, and only
 *       from a regular file inside the model file's folder: its {@code location} must be a relative path
 *       without {@code ..}, and its real path, links resolved, must lie inside the folder's real path.
 *       {@link #read(byte[])} has no folder and refuses external data.</li>
 * </ul>
 * Sub-graphs (attributes of {@code If}, {@code Loop}, {@code Scan}), sparse initializers, functions and
 * training information are not read: sub-graph attributes appear as {@link OnnxAttribute.Unsupported}.
 *
 * <p>Stateless: the static methods are thread-safe.
 */
public final class OnnxModelReader {
    /** The largest file read: the largest Java array, below protobuf's 2 GiB message limit. */
    public static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 8;

    /** The most elements (and bytes of external data) one tensor may have: the largest Java array. */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private OnnxModelReader() {}

    /**
     * Reads an ONNX model file; external tensor data is read from the file's folder only.
     *
     * @throws IOException         if the file cannot be read (missing, unreadable)
     * @throws OnnxFormatException if the file is not a valid ONNX model or uses something unsupported
     */
    public static OnnxModel read(Path modelFile) throws IOException {
        byte[] bytes = readBounded(modelFile);
        return parse(bytes, ExternalData.inFolderOf(modelFile), "model file " + modelFile.getFileName());
    }

    /**
     * Reads an ONNX model from its serialized bytes. Tensors with external data are refused.
     *
     * @throws OnnxFormatException if the bytes are not a valid ONNX model or use something unsupported
     */
    public static OnnxModel read(byte[] modelBytes) {
        if (modelBytes.length > MAX_FILE_BYTES) {
            throw new OnnxFormatException("model of " + modelBytes.length + " bytes is larger than the limit of " + MAX_FILE_BYTES);
        }
        return parse(modelBytes, ExternalData.NONE, "model");
    }

    /** Reads a whole regular file of at most {@link #MAX_FILE_BYTES}. */
    static byte[] readBounded(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            if (!Files.exists(file)) throw new java.nio.file.NoSuchFileException(file.toString());
            throw new OnnxFormatException(file + " is not a regular file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > MAX_FILE_BYTES) {
                throw new OnnxFormatException(file + " has " + size + " bytes, more than the limit of " + MAX_FILE_BYTES
                        + " (protobuf cannot hold 2 GiB; larger models must keep their weights as external data)");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) break; // the file shrank while being read: parse what is there
            }
            if (ch.read(ByteBuffer.allocate(1)) > 0) {
                throw new OnnxFormatException(file + " grew while being read");
            }
            return buf.position() == buf.capacity() ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
        }
    }

    private static OnnxModel parse(byte[] bytes, ExternalData external, String what) {
        ModelProto model;
        try {
            model = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(what + " is not a valid ONNX protobuf (truncated or corrupted?): " + e.getMessage(), e);
        }
        if (!model.hasGraph()) {
            throw new OnnxFormatException(what + " has no graph (is it an ONNX model file?)");
        }
        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto op : model.getOpsetImportList()) {
            if (opsets.put(op.getDomain(), op.getVersion()) != null) {
                throw new OnnxFormatException(what + " imports the operator set '" + op.getDomain() + "' twice");
            }
        }
        GraphProto g = model.getGraph();

        Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (t.getName().isEmpty()) {
                throw new OnnxFormatException("initializer #" + i + " has no name");
            }
            OnnxTensor tensor = TensorDecoder.decode(t, "initializer", external);
            if (initializers.put(tensor.name(), tensor) != null) {
                throw new OnnxFormatException("two initializers are named '" + tensor.name() + "'");
            }
        }
        List<OnnxValueInfo> inputs = valueInfos(g.getInputList(), "graph input");
        List<OnnxValueInfo> outputs = valueInfos(g.getOutputList(), "graph output");

        List<OnnxNode> nodes = new ArrayList<>(g.getNodeCount());
        for (int i = 0; i < g.getNodeCount(); i++) {
            nodes.add(node(g.getNode(i), i, external));
        }

        Set<String> available = new HashSet<>(initializers.keySet());
        Set<String> inputNames = new HashSet<>();
        for (OnnxValueInfo in : inputs) {
            if (!inputNames.add(in.name())) {
                throw new OnnxFormatException("two graph inputs are named '" + in.name() + "'");
            }
            available.add(in.name());
        }
        List<OnnxNode> ordered = GraphOrder.order(nodes, available);
        Set<String> produced = new HashSet<>(available);
        for (OnnxNode n : nodes) produced.addAll(n.outputs());
        Set<String> outputNames = new HashSet<>();
        for (OnnxValueInfo out : outputs) {
            if (!outputNames.add(out.name())) {
                throw new OnnxFormatException("two graph outputs are named '" + out.name() + "'");
            }
            if (!produced.contains(out.name())) {
                throw new OnnxFormatException("graph output '" + out.name() + "' is not produced by any node, graph input or initializer");
            }
        }
        return new OnnxModel(model.getIrVersion(), model.getProducerName(), g.getName(), opsets, inputs, outputs,
                initializers, ordered);
    }

    private static List<OnnxValueInfo> valueInfos(List<ValueInfoProto> protos, String what) {
        List<OnnxValueInfo> out = new ArrayList<>(protos.size());
        for (int i = 0; i < protos.size(); i++) {
            ValueInfoProto v = protos.get(i);
            if (v.getName().isEmpty()) {
                throw new OnnxFormatException(what + " #" + i + " has no name");
            }
            String where = what + " '" + v.getName() + "'";
            if (!v.getType().hasTensorType()) {
                out.add(new OnnxValueInfo(v.getName(), false, OnnxDataType.UNDEFINED, Optional.empty()));
                continue;
            }
            TypeProto.Tensor tt = v.getType().getTensorType();
            OnnxDataType elem;
            try {
                elem = OnnxDataType.fromCode(tt.getElemType());
            } catch (OnnxFormatException e) {
                throw new OnnxFormatException(where + ": " + e.getMessage());
            }
            Optional<List<OnnxValueInfo.Dim>> shape = Optional.empty();
            if (tt.hasShape()) {
                List<OnnxValueInfo.Dim> dims = new ArrayList<>(tt.getShape().getDimCount());
                for (TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
                    if (d.hasDimValue()) {
                        if (d.getDimValue() < 0) {
                            throw new OnnxFormatException(where + " has a negative dimension " + d.getDimValue());
                        }
                        dims.add(OnnxValueInfo.Dim.of(d.getDimValue()));
                    } else {
                        dims.add(OnnxValueInfo.Dim.dynamic(d.hasDimParam() && !d.getDimParam().isEmpty() ? d.getDimParam() : null));
                    }
                }
                shape = Optional.of(dims);
            }
            out.add(new OnnxValueInfo(v.getName(), true, elem, shape));
        }
        return out;
    }

    private static OnnxNode node(NodeProto n, int index, ExternalData external) {
        String label = (n.getOpType().isEmpty() ? "node" : n.getOpType()) + (n.getName().isEmpty() ? " #" + index : " '" + n.getName() + "'");
        if (n.getOpType().isEmpty()) {
            throw new OnnxFormatException("node #" + index + (n.getName().isEmpty() ? "" : " '" + n.getName() + "'") + " has no op_type");
        }
        Map<String, OnnxAttribute> attributes = new LinkedHashMap<>();
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().isEmpty()) {
                throw new OnnxFormatException(label + " has an attribute without a name");
            }
            if (attributes.put(a.getName(), attribute(a, label, external)) != null) {
                throw new OnnxFormatException(label + " has two attributes named '" + a.getName() + "'");
            }
        }
        return new OnnxNode(n.getName(), n.getOpType(), n.getDomain(), n.getInputList(), n.getOutputList(), attributes);
    }

    private static OnnxAttribute attribute(AttributeProto a, String nodeLabel, ExternalData external) {
        String where = "attribute '" + a.getName() + "' of " + nodeLabel;
        if (a.hasRefAttrName() && !a.getRefAttrName().isEmpty()) {
            throw new OnnxFormatException(where + " refers to a function attribute ('" + a.getRefAttrName()
                    + "'), which is only valid inside functions");
        }
        int type = a.getType();
        if (type == AttributeProto.AttributeType.UNDEFINED_VALUE) {
            type = inferType(a, where); // files from before IR version 2 have no type field
        }
        return switch (type) {
            case AttributeProto.AttributeType.FLOAT_VALUE -> new OnnxAttribute.Float(a.getF());
            case AttributeProto.AttributeType.INT_VALUE -> new OnnxAttribute.Int(a.getI());
            case AttributeProto.AttributeType.STRING_VALUE -> new OnnxAttribute.Str(a.getS().toStringUtf8());
            case AttributeProto.AttributeType.TENSOR_VALUE -> {
                if (!a.hasT()) throw new OnnxFormatException(where + " is of type TENSOR but has no tensor");
                yield new OnnxAttribute.Tensor(TensorDecoder.decode(a.getT(), "tensor of " + where, external));
            }
            case AttributeProto.AttributeType.FLOATS_VALUE -> {
                float[] v = new float[a.getFloatsCount()];
                for (int i = 0; i < v.length; i++) v[i] = a.getFloats(i);
                yield new OnnxAttribute.Floats(v);
            }
            case AttributeProto.AttributeType.INTS_VALUE -> {
                long[] v = new long[a.getIntsCount()];
                for (int i = 0; i < v.length; i++) v[i] = a.getInts(i);
                yield new OnnxAttribute.Ints(v);
            }
            case AttributeProto.AttributeType.STRINGS_VALUE ->
                    new OnnxAttribute.Strs(a.getStringsList().stream().map(ByteString::toStringUtf8).toList());
            case AttributeProto.AttributeType.GRAPH_VALUE, AttributeProto.AttributeType.GRAPHS_VALUE,
                 AttributeProto.AttributeType.TENSORS_VALUE, AttributeProto.AttributeType.SPARSE_TENSOR_VALUE,
                 AttributeProto.AttributeType.SPARSE_TENSORS_VALUE, AttributeProto.AttributeType.TYPE_PROTO_VALUE,
                 AttributeProto.AttributeType.TYPE_PROTOS_VALUE ->
                    new OnnxAttribute.Unsupported(AttributeProto.AttributeType.forNumber(type).name());
            default -> throw new OnnxFormatException(where + " has an unknown attribute type " + type);
        };
    }

    private static int inferType(AttributeProto a, String where) {
        if (a.hasF()) return AttributeProto.AttributeType.FLOAT_VALUE;
        if (a.hasI()) return AttributeProto.AttributeType.INT_VALUE;
        if (a.hasS()) return AttributeProto.AttributeType.STRING_VALUE;
        if (a.hasT()) return AttributeProto.AttributeType.TENSOR_VALUE;
        if (a.getFloatsCount() > 0) return AttributeProto.AttributeType.FLOATS_VALUE;
        if (a.getIntsCount() > 0) return AttributeProto.AttributeType.INTS_VALUE;
        if (a.getStringsCount() > 0) return AttributeProto.AttributeType.STRINGS_VALUE;
        throw new OnnxFormatException(where + " has no type and no value");
    }
}
