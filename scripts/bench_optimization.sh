#!/usr/bin/env bash
# Time one latent-optimisation step in styleclip (criterion) and in the official PyTorch code on
# the same machine, one after the other, and print the ratios.
#   scripts/bench_optimization.sh /path/to/StyleCLIP /path/to/stylegan2-pytorch
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench optimization -- --noplot
python3 scripts/bench_optimization_torch.py "$1" "$2" | tee /tmp/styleclip-opt-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-opt-torch-bench.txt
