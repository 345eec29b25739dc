# convnet: `make test` runs every test, `make run` runs the main job. Both set everything up on a fresh machine:
# they find a JDK >= 22 (bin/find-jdk), and Maven downloads oneDNN 3.8.1 from Maven Central into target/native/ and
# packs its native files into the jars.

SHELL := /bin/bash
JDK := $(shell bin/find-jdk 2>/dev/null)
ifeq ($(JDK),)
$(error no JDK >= 22 found: convnet needs the FFM API (JDK 22+, JDK 25 is the target). Install one under /usr/lib/jvm or set JAVA_HOME. Details: bin/find-jdk)
endif
export JAVA_HOME := $(JDK)
MVN ?= mvn
MVN_FLAGS ?= -B -q
JAVA := $(JDK)/bin/java

# The project's version (the first <version> of pom.xml) and the runnable jar `mvn package` writes.
VERSION := $(shell sed -n 's:^  <version>\(.*\)</version>.*:\1:p' pom.xml | head -1)
CLI_JAR := target/convnet-$(VERSION)-cli.jar

# Where `mvn` unpacks the oneDNN headers (jextract reads them from there).
NATIVE := target/native/linux-x86_64
JEXTRACT ?= $(shell command -v jextract 2>/dev/null)

.PHONY: precision-bench spark spark-measure run-data debian-packages train-bench all build test run bench bench-quick zoo bench-classes native-bench bench-packages models peers bindings clean info test-data transfer transfer-quick

all: build

## build: compile the library, unpack oneDNN, package target/convnet-VERSION.jar (the library, with oneDNN's native
## files), target/convnet-VERSION-cli.jar (runnable: every dependency inside) and write bin/convnet
build: bin/convnet
	$(MVN) $(MVN_FLAGS) package -DskipTests

bin/convnet: bin/convnet.in pom.xml
	sed 's|@VERSION@|$(VERSION)|g' bin/convnet.in > bin/convnet && chmod +x bin/convnet

## test: every test, after installing the Debian test data the tests read: the unit tests (JUnit 5 via Surefire), then,
## on the packaged jars, the integration tests (Failsafe): a separate Maven project that depends on the installed
## artifact and runs from a folder away from the checkout, and two JVMs copying the natives into one empty cache at once.
## First the benchmark models and their QDQ versions (seconds) for QdqBenchmarkModelsTest (convnet's Java and oneDNN int8
## runs against ONNX Runtime's); without PyTorch's exporter that test is skipped and says why.
test: bin/convnet test-data
	@$(MAKE) --no-print-directory qdq-models || echo "warning: the QDQ benchmark models could not be made; QdqBenchmarkModelsTest will be skipped"
	$(MVN) $(MVN_FLAGS) verify

# The ONNX backend test cases (libonnx-testdata), Fashion-MNIST (dataset-fashion-mnist), PyTorch (python3-torch: it
# makes the optimizer-step fixtures at test time) and torchvision and onnx (the models QdqBenchmarkModelsTest reads)
# come from Debian's packages.
TEST_PACKAGES := libonnx-testdata dataset-fashion-mnist python3-torch python3-torchvision python3-onnx
RUN_PACKAGES := dataset-fashion-mnist
test-data:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(TEST_PACKAGES)"

run-data:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(RUN_PACKAGES)"

debian-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null)); \
	  else echo "warning: Debian packages$$missing are not installed and this is not root; tests that need them will be skipped"; fi; \
	fi

## run: the main job: what the library loaded, the lecture's examples computed by it, a VGG-style network on oneDNN and
## Java, and the lecture's network trained for one epoch on Fashion-MNIST on oneDNN
run: build run-data
	bin/convnet info
	bin/convnet lecture
	bin/convnet demo
	bin/convnet train --data fashion-mnist --epochs 1 --backend onednn --save target/fashion-mnist-lecture.onnx


info: build
	bin/convnet info
	bin/convnet lecture
	bin/convnet demo

BENCH_CP = target/test-classes:target/classes:$$(cat target/test-classpath.txt)
# -Xss8m: ONNX Runtime 1.29 overflows the default 1 MB main-thread stack (SIGSEGV) while optimizing a graph
BENCH_JAVA = $(JAVA) -Xss8m --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp $(BENCH_CP)
TORCH_PYTHON ?= /usr/bin/python3
MODELS_DIR ?= target/models
BENCH_THREADS ?= $(shell nproc)
PEER_ARGS ?= --threads $(BENCH_THREADS) --iters 20 --warmup 5
# The Python peer and the model export (not needed by `make test`).
BENCH_PACKAGES := python3-torch python3-torchvision python3-matplotlib python3-onnx

bench-classes: build
	$(MVN) $(MVN_FLAGS) test-compile

## native-bench: the C baseline (oneDNN from C) and the machine's FMA peak, built against the unpacked oneDNN
native-bench: build
	$(MAKE) -C native/bench

bench-packages:
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null)); fi

## models: ResNet-18, MobileNetV2, SqueezeNet 1.1 (seeded weights) exported to ONNX by PyTorch, with inputs and outputs
models: bench-packages
	test -f $(MODELS_DIR)/manifest.json || $(TORCH_PYTHON) bench/export_models.py $(MODELS_DIR)

## qdq-models: QDQ (int8) versions of those models (bench/qdq_models.py); QdqBenchmarkModelsTest compares convnet with ONNX Runtime on them
.PHONY: qdq-models
qdq-models: models
	$(TORCH_PYTHON) bench/qdq_models.py $(MODELS_DIR)

## peers: convnet (oneDNN and Java backends), ONNX Runtime (Java) and PyTorch on those models, same inputs and
## threads, each output checked against PyTorch's: one JSON line per peer, model and batch in target/bench/models.jsonl
peers: models bench-classes
	mkdir -p target/bench
	$(BENCH_JAVA) dev.convnet.bench.OrtPeer --models-dir $(MODELS_DIR) $(PEER_ARGS) > target/bench/models.jsonl
	$(BENCH_JAVA) dev.convnet.bench.ModelBench --models-dir $(MODELS_DIR) $(PEER_ARGS) --backends onednn,java >> target/bench/models.jsonl
	$(TORCH_PYTHON) bench/torch_peer.py --models-dir $(MODELS_DIR) $(PEER_ARGS) >> target/bench/models.jsonl

## zoo: the other torchvision classifier families (VGG, ResNet-50, MobileNetV3, ShuffleNetV2, DenseNet, GoogLeNet,
## MNASNet, EfficientNet, RegNet) exported at batch 1 and run on oneDNN and Java against PyTorch's outputs
zoo: bench-packages bench-classes
	test -f target/zoo/manifest.json || $(TORCH_PYTHON) bench/export_models.py target/zoo --zoo --batches 1
	$(BENCH_JAVA) dev.convnet.bench.ModelBench --models-dir target/zoo --batches 1 --iters 3 --warmup 1 \
	  --backends onednn,java --only vgg11,resnet50,mobilenet_v3_small,shufflenet_v2_x1_0,densenet121,googlenet,mnasnet1_0,efficientnet_b0,regnet_y_400mf

## bench-quick: the side-by-side report in a few minutes (batch-1 models, fewer runs), ending with the
## `summary NAME=VALUE` lines
bench-quick: native-bench run-data
	$(MAKE) peers PEER_ARGS="--threads $(BENCH_THREADS) --iters 10 --warmup 3 --batches 1,8"
	$(BENCH_JAVA) dev.convnet.bench.SideBySide --quick --threads $(BENCH_THREADS) --out target/bench/quick
	$(MAKE) --no-print-directory train-bench
	$(MAKE) --no-print-directory precision-bench

## train-bench: PyTorch and convnet train the lecture's network on Fashion-MNIST in one run (2 epochs each, same recipe
## and threads): summary train_vs_torch and train_accuracy; TRAIN_REPORT=DIR also writes DIR/training.json and report rows
TRAIN_EPOCHS ?= 2
train-bench: bench-classes run-data bench-packages
	mkdir -p target/bench
	$(TORCH_PYTHON) bench/torch_train.py --threads $(BENCH_THREADS) --epochs $(TRAIN_EPOCHS) > target/bench/torch_train.json
	$(BENCH_JAVA) dev.convnet.bench.TrainBench --torch target/bench/torch_train.json --threads $(BENCH_THREADS) \
	  --epochs $(TRAIN_EPOCHS) $(if $(TRAIN_REPORT),--report $(TRAIN_REPORT))

## precision-bench: FP32, bf16 and int8 on oneDNN in one run: test accuracy of the Fashion-MNIST network `convnet train`
## saved (trained first if missing, 2 epochs) and top-1 agreement with FP32; ResNet-18 and MobileNetV2 at batch 8, time
## per run and top-5 overlap with FP32; summary bf16_vs_fp32, bf16_top1_agreement, int8_vs_fp32, int8_accuracy_drop
PRECISION_MODEL ?= target/bench/fashion-mnist.onnx
PRECISION_ARGS ?= --iters 10 --out target/bench
precision-bench: build bench-classes run-data models
	test -f $(PRECISION_MODEL) || bin/convnet train --data fashion-mnist --epochs 2 --backend onednn --save $(PRECISION_MODEL)
	$(BENCH_JAVA) dev.convnet.bench.PrecisionBench --model $(PRECISION_MODEL) --models-dir $(MODELS_DIR) \
	  --threads $(BENCH_THREADS) $(PRECISION_ARGS)

## transfer-quick: issue 10's transfer-learning experiment in under 10 minutes: pretrain on Fashion-MNIST classes 0-4 (cached in
## target/transfer/pretrained.onnx), then fixed-softmax, fixed-svm, finetune, finetune-top and scratch on classes 5-9 with
## K = 10 and 100 labelled images per class (one seed), convnet and PyTorch (bench/torch_transfer.py) on the same images;
## writes target/transfer/transfer.{md,json,png} and ends with the summary lines. transfer: K = 10, 50, 100, 1000, all and
## seeds 1-3 into bench/results/ (about 45 minutes here). convnet trains on its default backend (TRANSFER_BACKEND=java to
## choose); OpenMP threads (oneDNN's and PyTorch's) sleep while they wait, as they must on a machine whose cores are shared.
TRANSFER_BACKEND ?=
TRANSFER_ARGS = $(if $(TRANSFER_BACKEND),--backend $(TRANSFER_BACKEND)) --threads $(BENCH_THREADS) --python $(TORCH_PYTHON)
TRANSFER_ENV = OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE}
transfer-quick: bench-classes run-data bench-packages
	$(TRANSFER_ENV) $(BENCH_JAVA) dev.convnet.bench.TransferExperiment --quick $(TRANSFER_ARGS)

transfer: bench-classes run-data bench-packages
	$(TRANSFER_ENV) $(BENCH_JAVA) dev.convnet.bench.TransferExperiment --out bench/results $(TRANSFER_ARGS)

## bench: everything: peers on the models, the side-by-side report and chart in bench/results/, then the JMH suite
bench: native-bench peers
	$(BENCH_JAVA) dev.convnet.bench.SideBySide --threads $(BENCH_THREADS) --out bench/results
	$(MAKE) --no-print-directory train-bench TRAIN_REPORT=bench/results
	$(MAKE) --no-print-directory precision-bench PRECISION_ARGS="--iters 20 --out bench/results --report bench/results"
	$(TORCH_PYTHON) bench/chart.py bench/results/results.json bench/results/chart.png
	$(BENCH_JAVA) org.openjdk.jmh.Main $(JMH_ARGS)

## spark: issue 12's measurement: the 10,000 Fashion-MNIST test images read from Parquet and scored by ConvnetTransformer in
## a local[SPARK_CORES] Spark job (1 oneDNN thread per task), against the same model in process on the same cores and
## batch size; prints the cost split of Spark's batches, checks every prediction, ends with `summary spark_images_per_s=`
## and `summary spark_vs_local=`. The model is trained first if missing (1 epoch); without Fashion-MNIST, ResNet-18
## (`make models`) scores generated 224×224 images instead.
SPARK_FLAGS = $(shell sed -n 's:.*<spark.jvm.flags>\(.*\)</spark.jvm.flags>.*:\1:p' pom.xml)
SPARK_CORES ?= 2
SPARK_MODEL ?= target/fashion.onnx
SPARK_ARGS ?= --cores $(SPARK_CORES) --batch 64 --runs 3
spark: bench-classes run-data
	@$(MAKE) --no-print-directory spark-measure

ifneq ($(wildcard /usr/share/datasets/fashion-mnist/.),)
spark-measure: $(SPARK_MODEL)
	$(JAVA) $(SPARK_FLAGS) --add-modules jdk.incubator.vector -cp $(BENCH_CP) dev.convnet.bench.SparkBench --model $(SPARK_MODEL) $(SPARK_ARGS)

$(SPARK_MODEL):
	bin/convnet train --data fashion-mnist --epochs 1 --save $@
else
spark-measure: models
	@echo "no Fashion-MNIST (Debian's dataset-fashion-mnist): ResNet-18 on generated 224×224 images instead"
	$(JAVA) $(SPARK_FLAGS) --add-modules jdk.incubator.vector -cp $(BENCH_CP) dev.convnet.bench.SparkBench --model $(MODELS_DIR)/resnet18_b1.onnx --data generated \
	  --images 256 --cores $(SPARK_CORES) --batch 8 --runs 2 --repeat 2
endif

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
