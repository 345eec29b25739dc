package dev.convnet.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old content or the whole new content, never a part: the bytes go
 * to a new temporary file in the target's folder ({@code .<name>.<random>.tmp}, created with the default
 * permissions), are forced to the disk, and the temporary file is then renamed over the target (atomically where
 * the file system can; otherwise a plain replacing move). On any failure the temporary file is deleted and the
 * target is left as it was.
 *
 * <p>Stateless and thread-safe; two threads writing the same target each write their own temporary file, and the
 * last rename wins.
 */
final class AtomicFiles {
    private AtomicFiles() {
    }

    /**
     * Replaces (or creates) {@code target} with {@code bytes}.
     *
     * @throws IOException if the folder is missing or not writable, or writing or renaming fails
     */
    static void write(Path target, byte[] bytes) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path folder = absolute.getParent();
        if (folder == null) throw new IOException("cannot write " + target + ": it has no parent folder");
        if (Files.isDirectory(absolute)) throw new IOException("cannot write " + target + ": it is a folder");
        Path temp = createTemp(folder, absolute.getFileName().toString());
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(true);
            }
            try {
                Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, absolute, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static Path createTemp(Path folder, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path temp = folder.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return temp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 100) throw e;
            }
        }
    }
}
