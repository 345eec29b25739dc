package dev.convnet.onnx;

import dev.convnet.onnx.proto.OnnxProtos.StringStringEntryProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where tensors with {@code data_location = EXTERNAL} may be read from: only regular files inside the
 * folder of the model (or .pb) file, named by a relative path without {@code ..}, whose real path (links
 * resolved) is still inside that folder's real path. Reading from bytes has no folder: {@link #NONE}
 * refuses all external data. Immutable.
 */
final class ExternalData {
    static final ExternalData NONE = new ExternalData(null);

    private final Path folder;

    private ExternalData(Path folder) {
        this.folder = folder;
    }

    static ExternalData inFolderOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return new ExternalData(parent);
    }

    ByteBuffer read(List<StringStringEntryProto> entries, long expectedBytes, String where) {
        if (folder == null) {
            throw new OnnxFormatException(where + " stores its data externally (data_location = EXTERNAL); external data is read "
                    + "only when the model is read from a file, from that file's folder");
        }
        Map<String, String> kv = new HashMap<>();
        for (StringStringEntryProto e : entries) {
            if (kv.put(e.getKey(), e.getValue()) != null) {
                throw new OnnxFormatException(where + ": external_data has the key '" + e.getKey() + "' twice");
            }
        }
        String location = kv.get("location");
        if (location == null || location.isEmpty()) {
            throw new OnnxFormatException(where + ": external data without a 'location'");
        }
        long offset = parseNonNegative(kv.get("offset"), "offset", where, 0);
        long length = parseNonNegative(kv.get("length"), "length", where, expectedBytes);
        if (length != expectedBytes) {
            throw new OnnxFormatException(where + ": external data length " + length + " does not match the " + expectedBytes
                    + " bytes its type and shape need");
        }
        Path file = resolveInside(location, where);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (offset > size || size - offset < length) {
                throw new OnnxFormatException(where + ": external data file '" + location + "' has " + size + " bytes, too few for "
                        + length + " bytes at offset " + offset);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) length); // length <= MAX_ELEMENTS, checked by the caller
            long pos = offset;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) {
                    throw new OnnxFormatException(where + ": external data file '" + location + "' ended early");
                }
                pos += r;
            }
            return buf.flip();
        } catch (IOException e) {
            throw new OnnxFormatException(where + ": cannot read external data file '" + location + "': " + e, e);
        }
    }

    /** The file a {@code location} names, if it is inside the folder; otherwise an OnnxFormatException. */
    private Path resolveInside(String location, String where) {
        String refused = null;
        if (location.indexOf('\0') >= 0) {
            refused = "contains a NUL character";
        } else if (location.startsWith("/") || location.startsWith("\\") || (location.length() > 1 && location.charAt(1) == ':')) {
            refused = "is an absolute path";
        } else {
            for (String part : location.split("[/\\\\]")) {
                if (part.equals("..")) {
                    refused = "contains '..'";
                    break;
                }
            }
        }
        Path candidate = null;
        if (refused == null) {
            try {
                candidate = folder.resolve(location);
                if (candidate.isAbsolute() && !candidate.normalize().startsWith(folder.normalize())) {
                    refused = "leaves the model's folder";
                }
            } catch (java.nio.file.InvalidPathException e) {
                refused = "is not a valid path";
            }
        }
        if (refused == null) {
            try {
                Path realFolder = folder.toRealPath();
                Path real = candidate.toRealPath();
                if (!real.startsWith(realFolder)) {
                    refused = "resolves (through links) to " + real + ", outside the model's folder";
                } else if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                    refused = "is not a regular file";
                } else {
                    return real;
                }
            } catch (IOException e) {
                throw new OnnxFormatException(where + ": external data file '" + location + "' cannot be opened in " + folder + ": " + e, e);
            }
        }
        throw new OnnxFormatException(where + ": external data location '" + location + "' " + refused
                + "; external data is read only from files inside the model's folder " + folder);
    }

    private static long parseNonNegative(String value, String key, String where, long absent) {
        if (value == null) return absent;
        try {
            long v = Long.parseLong(value.trim());
            if (v >= 0) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new OnnxFormatException(where + ": external data " + key + " '" + value + "' is not a non-negative integer");
    }
}
