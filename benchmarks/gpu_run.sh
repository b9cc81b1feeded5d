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
# its tokenizers, which none of the scripts uses.
#
# Usage: OUT=results bash benchmarks/gpu_run.sh [all|attention|throughput|max-batch|inference]
# `all` runs the attention kernels, then the throughput benchmark on cores
# 0-7 with the max-batch estimate compiling beside it on cores 8-15: that
# one only compiles (autotuning off), so the GPU stays the throughput's
# alone. Each script writes its JSON to $OUT after every result, so a run
# stopped at its time limit (*_SECONDS) keeps what it measured;
# THROUGHPUT_ARGS and MAX_BATCH_ARGS replace the scripts' arguments.
# `inference` runs only the inference workload (about a minute).
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

cores() {  # cores FIRST-LAST COMMAND...: pinned where taskset exists
  local range=$1
  shift
  if command -v taskset >/dev/null && (( $(nproc) >= 16 )); then
    taskset -c "$range" "$@"
  else
    "$@"
  fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import jax, torch; print("jax", jax.__version__, jax.devices())
print("torch", torch.__version__)'

if [[ $stage == all || $stage == attention ]]; then
  timeout "${ATTENTION_SECONDS:-90}" python3 benchmarks/attention_kernels.py \
    --json "$OUT/attention_kernels.json" 2>&1 | tee "$OUT/attention_kernels.log"
  echo "attention_kernels.py exit status ${PIPESTATUS[0]}"
fi
if [[ $stage == all || $stage == max-batch ]]; then
  (
    cores 8-15 timeout "${MAX_BATCH_SECONDS:-420}" python3 benchmarks/max_batch_size.py \
      ${MAX_BATCH_ARGS:---jobs 6} --json "$OUT/max_batch_size.json" > "$OUT/max_batch_size.log" 2>&1
    echo "max_batch_size.py exit status $?" >> "$OUT/max_batch_size.log"
  ) &
  max_batch=$!
fi
if [[ $stage == all || $stage == throughput ]]; then
  # JAX's allocator keeps what it once held: the cap leaves PyTorch room
  # for BERT-Large after the Keras models of the workloads before it.
  XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.6} \
  cores 0-7 timeout "${THROUGHPUT_SECONDS:-470}" python3 benchmarks/training_throughput.py \
    ${THROUGHPUT_ARGS:---mode gpu --rounds 3 --fast-attention} --json "$OUT/training_throughput.json" 2>&1 \
    | tee "$OUT/training_throughput.log"
  echo "training_throughput.py exit status ${PIPESTATUS[0]}"
fi
if [[ $stage == inference ]]; then
  timeout "${THROUGHPUT_SECONDS:-240}" python3 benchmarks/training_throughput.py --mode gpu \
    --rounds 3 --workloads "BERT-Base inference" --json "$OUT/inference_throughput.json" 2>&1 \
    | tee "$OUT/inference_throughput.log"
  echo "training_throughput.py exit status ${PIPESTATUS[0]}"
fi
if [[ -n ${max_batch:-} ]]; then
  wait "$max_batch"
  cat "$OUT/max_batch_size.log"
fi
