#!/usr/bin/env bash
# Time inversion in styleclip (criterion: e4e encode at 256 and 1024 generator sizes, one
# projector step) and in the official PyTorch code (2 threads) on the same machine, one after
# the other, and print the ratios.
#   scripts/bench_invert.sh /path/to/encoder4editing /path/to/stylegan2-pytorch /path/to/StyleCLIP
# Extra cargo flags (e.g. `--profile dev`, whose numbers are slower than release's) go in
# STYLECLIP_CARGO_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
# shellcheck disable=SC2086  # the flags are words
cargo bench ${STYLECLIP_CARGO_FLAGS:-} --bench invert -- --noplot
python3 scripts/bench_invert_torch.py "$1" "$2" "$3" | tee /tmp/styleclip-invert-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-invert-torch-bench.txt
