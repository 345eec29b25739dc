package dev.convnet.shape;

/**
 * The resolved geometry of a 2-D convolution or pooling window: one {@link ConvAxis} for the
 * height and one for the width (Eq. 8).
 *
 * <p>Thread-safety: immutable.
 *
 * @param height geometry along the height axis
 * @param width  geometry along the width axis
 */
public record Geometry2d(ConvAxis height, ConvAxis width) {
}
