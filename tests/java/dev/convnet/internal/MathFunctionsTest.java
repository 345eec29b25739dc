package dev.convnet.internal;

import dev.convnet.internal.kernels.MathFunctions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MathFunctionsTest {
    @Test
    void erfMatchesTabulatedValues() {
        // values from Abramowitz & Stegun table 7.1 / high-precision tables
        assertEquals(0.0, MathFunctions.erf(0), 0);
        assertEquals(0.1124629160182849, MathFunctions.erf(0.1), 1e-15);
        assertEquals(0.5204998778130465, MathFunctions.erf(0.5), 1e-15);
        assertEquals(0.8427007929497149, MathFunctions.erf(1), 1e-15);
        assertEquals(0.9953222650189527, MathFunctions.erf(2), 1e-15);
        assertEquals(0.9999779095030014, MathFunctions.erf(3), 1e-15);
        assertEquals(-0.8427007929497149, MathFunctions.erf(-1), 1e-15);
        assertEquals(1.0, MathFunctions.erf(7), 0);
        assertEquals(0.8413447460685429, MathFunctions.gelu(1), 1e-15); // Φ(1)
    }
}
