#!/usr/bin/env bash
# The whole suite under each Keras backend; model code must be exact on both.
set -euo pipefail
cd "$(dirname "$0")/.."
for backend in tensorflow jax; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend python -m pytest -n 2 -q -p no:cacheprovider "$@"
done
