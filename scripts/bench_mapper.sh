#!/usr/bin/env bash
# Time the latent mapper in styleclip (criterion) and in the official PyTorch code on the same
# machine, one after the other, and print the ratios.
#   scripts/bench_mapper.sh /path/to/StyleCLIP
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench mapper -- --noplot
python3 scripts/bench_mapper_torch.py "$1" | tee /tmp/styleclip-mapper-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-mapper-torch-bench.txt
