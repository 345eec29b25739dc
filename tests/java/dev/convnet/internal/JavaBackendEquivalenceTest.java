package dev.convnet.internal;

import dev.convnet.net.BackendKind;

/** The Java backend against the reference: integer cases bitwise, real cases within Higham's bound. */
class JavaBackendEquivalenceTest extends BackendEquivalenceTestBase {
    @Override
    protected BackendKind backend() {
        return BackendKind.JAVA;
    }
}
