# convnet: `make test` runs every test, `make run` runs the main job. Both set everything up on a fresh machine:
# they find a JDK >= 22 (bin/find-jdk), and Maven downloads oneDNN 3.8.1 from Maven Central into target/native/.

SHELL := /bin/bash
JDK := $(shell bin/find-jdk 2>/dev/null)
ifeq ($(JDK),)
$(error no JDK >= 22 found: convnet needs the FFM API (JDK 22+, JDK 25 is the target). Install one under /usr/lib/jvm or set JAVA_HOME. Details: bin/find-jdk)
endif
export JAVA_HOME := $(JDK)
MVN ?= mvn
MVN_FLAGS ?= -B -q
JAVA := $(JDK)/bin/java

# Where `mvn` unpacks the oneDNN headers (jextract reads them from there).
NATIVE := target/native/linux-x86_64
JEXTRACT ?= $(shell command -v jextract 2>/dev/null)

.PHONY: all build test run bench bindings clean info test-data

all: build

## build: compile the library, unpack oneDNN, package target/convnet.jar and write bin/convnet
build: bin/convnet
	$(MVN) $(MVN_FLAGS) package -DskipTests

bin/convnet: bin/convnet.in
	cp bin/convnet.in bin/convnet && chmod +x bin/convnet

## test: every test (JUnit 5 via Surefire), after installing the Debian test data the tests read
test: bin/convnet test-data
	$(MVN) $(MVN_FLAGS) package

# The ONNX backend test cases (libonnx-testdata) and Fashion-MNIST come from Debian's packages.
TEST_PACKAGES := libonnx-testdata
test-data:
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -q $$missing >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null)); \
	  else echo "warning: Debian packages$$missing are not installed and this is not root; tests that need them will be skipped"; fi; \
	fi

## run: the main job: what the library loaded and the lecture's examples computed by it
run: build
	bin/convnet info
	bin/convnet lecture
	bin/convnet demo


info: build
	bin/convnet info
	bin/convnet lecture
	bin/convnet demo

## bench: JMH benchmarks (compiled with the tests) of the layers on each backend
bench: build
	$(MVN) $(MVN_FLAGS) test-compile
	$(JAVA) --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes:$$(cat target/test-classpath.txt) \
	  org.openjdk.jmh.Main $(JMH_ARGS)

## bindings: regenerate bindings/ from oneDNN 3.8.1's headers with jextract (from PATH or $JEXTRACT).
## The symbol list native/dnnl-symbols.txt is jextract --dump-includes output, trimmed; see native/README.md.
bindings:
	@test -n "$(JEXTRACT)" || { echo "jextract not found: put it on PATH or set JEXTRACT=/path/to/jextract (build it from github.com/openjdk/jextract)"; exit 1; }
	$(MVN) $(MVN_FLAGS) generate-resources
	rm -rf bindings/dev/convnet/onednn/bindings
	$(JEXTRACT) -I $(NATIVE)/include -t dev.convnet.onednn.bindings --header-class-name dnnl_h \
	  --output bindings @native/dnnl-symbols.txt native/convnet_dnnl.h

clean:
	$(MVN) $(MVN_FLAGS) clean
	rm -f bin/convnet
