"""Print criterion means next to the PyTorch timings of a `bench_*_torch.py` run.

    python scripts/compare_bench.py TARGET_DIR TORCH_OUTPUT

Case names match criterion's `group/function/parameter`; our `…/auto/N` cases are compared with
the official (fused) `…/fused/N` timing.
"""

import json
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]) / "criterion"
torch = {}
for line in open(sys.argv[2]):
    m = re.match(r"(\S+)\s+([\d.]+) ms", line)
    if m:
        torch[m.group(1)] = float(m.group(2))
pairs = [(n, n) for n in torch] + [(n.replace("/fused/", "/auto/"), n) for n in torch if "/fused/" in n]
print(f"{'case':48} {'styleclip ms':>12} {'torch ms':>9} {'ratio':>6}")
for ours_name, torch_name in pairs:
    est = root / ours_name / "new" / "estimates.json"
    if est.exists():
        ours = json.load(open(est))["mean"]["point_estimate"] / 1e6
        t = torch[torch_name]
        print(f"{ours_name:48} {ours:12.1f} {t:9.1f} {ours / t:6.2f}  (torch: {torch_name})")
