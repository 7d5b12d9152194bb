#!/usr/bin/env bash
# Time styleclip's generator (criterion) and the official PyTorch generator on the same machine,
# one after the other, and print the ratios.
#   scripts/bench_generator.sh /path/to/StyleCLIP /path/to/stylegan2-pytorch
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench generator -- --noplot
python3 scripts/bench_generator_torch.py "$1" "$2" | tee /tmp/styleclip-torch-bench.txt
python3 - "$target" <<'PY'
import json, re, sys, pathlib
root = pathlib.Path(sys.argv[1]) / "criterion"
torch = {}
for line in open("/tmp/styleclip-torch-bench.txt"):
    m = re.match(r"(\S+)\s+([\d.]+) ms", line)
    if m:
        torch[m.group(1)] = float(m.group(2))
print(f"{'case':48} {'styleclip ms':>12} {'torch ms':>9} {'ratio':>6}")
# Ours in Auto mode is compared with the official (fused) generator.
pairs = [(n, n) for n in torch] + [(n.replace("/fused/", "/auto/"), n) for n in torch if "/fused/" in n]
for ours_name, torch_name in pairs:
    est = root / ours_name / "new" / "estimates.json"
    if est.exists():
        ours = json.load(open(est))["mean"]["point_estimate"] / 1e6
        t = torch[torch_name]
        print(f"{ours_name:48} {ours:12.1f} {t:9.1f} {ours / t:6.2f}  (torch: {torch_name})")
PY
