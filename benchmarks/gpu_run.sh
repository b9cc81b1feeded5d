#!/usr/bin/env bash
# The GPU figures of benchmarks/README.md, on a machine with CUDA, JAX, PyTorch
# and transformers (Python 3.12) but neither TensorFlow nor Keras, and no
# network. Keras and keras-hub travel as wheels in .whl/, fetched beforehand:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     --platform manylinux1_x86_64 -d .whl keras==3.15.1 namex optree keras-hub==0.32.0
#
# Their other requirements (absl-py, h5py, ml-dtypes, numpy, packaging, regex,
# rich, typing-extensions, sentencepiece, tokenizers) come with such a machine.
# keras-hub's kagglehub and tensorflow-text serve only preset downloads and
# its tokenizers, which neither script uses.
#
# Usage: OUT=results bash benchmarks/gpu_run.sh [all|throughput|max-batch]
# Each script writes its JSON to $OUT after every result, so a run stopped at
# its time limit (THROUGHPUT_SECONDS, MAX_BATCH_SECONDS) keeps what it measured.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
stage=${1:-all}
mkdir -p "$OUT"

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site:$PWD
export KERAS_BACKEND=jax
# JAX shares the GPU with PyTorch in one process, and the memory benchmark
# starts several compiling processes: none may take 75% of the GPU up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import jax, torch; print("jax", jax.__version__, jax.devices())
print("torch", torch.__version__)'

if [[ $stage == all || $stage == throughput ]]; then
  timeout "${THROUGHPUT_SECONDS:-300}" python3 benchmarks/training_throughput.py --mode gpu \
    --json "$OUT/training_throughput.json" 2>&1 | tee "$OUT/training_throughput.log"
  echo "training_throughput.py exit status ${PIPESTATUS[0]}"
fi
if [[ $stage == all || $stage == max-batch ]]; then
  timeout "${MAX_BATCH_SECONDS:-200}" python3 benchmarks/max_batch_size.py \
    --json "$OUT/max_batch_size.json" 2>&1 | tee "$OUT/max_batch_size.log"
  echo "max_batch_size.py exit status ${PIPESTATUS[0]}"
fi
