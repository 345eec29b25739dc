/**
 * Labelled image data for training: datasets, seeded batches, augmentation and file readers.
 *
 * <ul>
 *   <li>{@link dev.convnet.data.Dataset}: an immutable in-memory set of float images ({@code [C, H, W]}) with
 *       int labels and class names; filtering by class, subsets, per-class sampling, splits and per-channel
 *       normalization return new datasets that share the pixels.</li>
 *   <li>{@link dev.convnet.data.Batches} and {@link dev.convnet.data.Batch}: the NCHW mini-batches of one epoch,
 *       in an order that is a pure function of (seed, epoch), so a resumed run sees what an uninterrupted one
 *       would have.</li>
 *   <li>{@link dev.convnet.data.Augmentation}: random crop with zero padding and random horizontal flip,
 *       seeded by (seed, epoch, batch).</li>
 *   <li>Readers: {@link dev.convnet.data.IdxFiles} (MNIST's IDX format, raw or gzip),
 *       {@link dev.convnet.data.FashionMnist} (Debian's {@code dataset-fashion-mnist}),
 *       {@link dev.convnet.data.ImageFolder} (one folder of PNG/JPEG files per class). Problems with the files
 *       are {@link dev.convnet.data.DatasetException}s naming the file.</li>
 * </ul>
 *
 * <p>Everything here is immutable or stateless, and thread-safe, except the iterators of {@code Batches} and the
 * arrays inside a {@code Batch}, which belong to their receiver.
 */
package dev.convnet.data;
