#!/usr/bin/env bash
# Time styleclip's generator (criterion) and the official PyTorch generator on the same machine,
# one after the other, and print the ratios.
#   scripts/bench_generator.sh /path/to/StyleCLIP /path/to/stylegan2-pytorch
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench generator -- --noplot
python3 scripts/bench_generator_torch.py "$1" "$2" | tee /tmp/styleclip-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-torch-bench.txt
