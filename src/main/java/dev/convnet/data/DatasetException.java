package dev.convnet.data;

import java.io.IOException;

/**
 * The one exception this package's readers throw for data files they cannot use: a missing file or folder,
 * a wrong magic number, a file shorter or longer than its header promises, image and label counts that
 * differ, absurd dimensions, a corrupt gzip stream, an image that cannot be decoded, a folder without classes
 * or images. The message starts with the file or folder and says what was wrong, with the numbers.
 *
 * <p>Other I/O failures (permissions, a failing disk) reach the caller as the {@link IOException} the JDK
 * threw.
 *
 * <p>Exceptions are immutable after construction and safe to pass between threads.
 */
public class DatasetException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with a message.
     *
     * @param message the file or folder, and what is wrong with it
     */
    public DatasetException(String message) {
        super(message);
    }

    /**
     * An exception with a message and the exception underneath.
     *
     * @param message the file or folder, and what is wrong with it
     * @param cause   the exception underneath (a gzip or image decoder error)
     */
    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
