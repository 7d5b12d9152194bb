"""Regenerate tests/fixtures/lpips/: outputs of PyPI `lpips` 0.1.4
(`lpips.LPIPS(net='vgg', version='0.1')`) on CPU, on deterministic weights and inputs.

    pip install torch torchvision lpips safetensors
    python scripts/gen_lpips_fixtures.py

The VGG16 trunk has 14.7 M parameters, too many to commit, so every weight (trunk and heads)
follows a formula that the Rust test (`tests/lpips_parity.rs`) evaluates too. Keys are named as
torchvision / the lpips release name them, in this order: conv i = 0..12 (torchvision
`features.{0,2,5,7,10,12,14,17,19,21,24,26,28}`) has weight seed 2i and bias seed 2i+1, head
`lin{k}` has seed 26+k. With `u` = an integer hash of (seed, flat index) mapped to [-1, 1)
(`hash_uniform`):
- conv weights `u · sqrt(6 / fan_in)` (He scale, so activations keep their size over 13 layers),
- conv biases `0.05 · u`,
- heads `0.05 + 0.5 · |u|` (positive, like the released ones).

Inputs follow the same hash (seeds 100+): `a` uniform in [-1, 1), `b` either independent or
`clamp(a + s · u', -1, 1)` (a near pair, as in photo inversion). Written:
- `lpips.ref.safetensors`: distances, per-layer terms and the gradient of `Σ d` w.r.t. `a`;
- `heads_v0.1_legacy.pth`: the formula heads as a LEGACY (pre-1.6) `torch.save` pickle, the
  format of the released `weights/v0.1/vgg.pth`, under its keys `lin{k}.model.1.weight`;
- `state_dict_keys.json`: every key and shape of `LPIPS(net='vgg').state_dict()`.
The released `vgg.pth` shipped in the installed package is summarised too (per-head sums), so
`tests/lpips_parity.rs` can check that the real file loads when pointed at it.
"""

import collections
import json
import math
import os

import lpips
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "lpips")
FEATURES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
SLICE_OF = {n: s for s, ns in enumerate([[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]], 1) for n in ns}


def hash_uniform(k, n):
    """Integer hash of (k, i) → [-1, 1): exact in any language (no overflow in int64)."""
    i = torch.arange(n, dtype=torch.int64)
    h = ((i * 2654435761) ^ (k * 97531 + 12345)) & 0xFFFFFFFF
    h = ((h ^ (h >> 15)) * 73244475) & 0xFFFFFFFF
    h = h ^ (h >> 13)
    return (h.double() / 4294967296.0 * 2 - 1).float()


def u(k, shape):
    return hash_uniform(k, math.prod(shape)).reshape(shape)


def formula_weights():
    """torchvision / release key → tensor."""
    w = {}
    cin = 3
    chans = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    for i, (n, cout) in enumerate(zip(FEATURES, chans)):
        w[f"features.{n}.weight"] = u(2 * i, [cout, cin, 3, 3]) * math.sqrt(6.0 / (cin * 9))
        w[f"features.{n}.bias"] = 0.05 * u(2 * i + 1, [cout])
        cin = cout
    for k, c in enumerate([64, 128, 256, 512, 512]):
        w[f"lin{k}.model.1.weight"] = 0.05 + 0.5 * u(26 + k, [1, c, 1, 1]).abs()
    return w


def near(a, seed, s):
    return (a + s * u(seed, list(a.shape))).clamp(-1, 1)


def main():
    torch.manual_seed(0)
    net = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False).eval()
    sd = net.state_dict()
    w = formula_weights()
    with torch.no_grad():
        for name, t in w.items():
            if name.startswith("features."):
                n = int(name.split(".")[1])
                target = f"net.slice{SLICE_OF[n]}.{n}.{name.split('.')[2]}"
            else:
                target = name
            assert sd[target].shape == t.shape, (target, sd[target].shape, t.shape)
            sd[target].copy_(t)  # lins.{k} shares storage with lin{k}
    for k in range(5):
        assert torch.equal(sd[f"lins.{k}.model.1.weight"], w[f"lin{k}.model.1.weight"])
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "state_dict_keys.json"), "w") as f:
        json.dump({k: list(v.shape) for k, v in sd.items()}, f, indent=0, sort_keys=True)
    heads = collections.OrderedDict((f"lin{k}.model.1.weight", w[f"lin{k}.model.1.weight"].clone()) for k in range(5))
    torch.save(heads, os.path.join(OUT, "heads_v0.1_legacy.pth"), _use_new_zipfile_serialization=False)

    a64 = u(100, [3, 3, 64, 64])
    b64 = torch.cat([u(101, [1, 3, 64, 64]), near(a64[1:2], 102, 0.1), near(a64[2:3], 103, 0.3)])
    a_odd = u(104, [1, 3, 50, 76])  # odd sizes after pooling: floor mode matters
    b_odd = near(a_odd, 105, 0.2)

    ref = {}
    with torch.no_grad():
        for name, a, b in [("p64", a64, b64), ("odd", a_odd, b_odd)]:
            d, per = net(a, b, retPerLayer=True)
            ref[f"{name}_distance"] = d.reshape(-1)
            ref[f"{name}_per_layer"] = torch.stack([p.reshape(-1) for p in per])  # [5, N]
            print(name, "distances", d.reshape(-1).tolist())
        # The taps of the trunk alone (`pretrained_networks.vgg16.forward`), first 4 channels.
        taps = net.net(net.scaling_layer(a_odd))
        for k, t in enumerate(taps):
            ref[f"odd_tap{k}"] = t[:, :4].contiguous()
    a = a64[1:2].clone().requires_grad_(True)
    net(a, b64[1:2]).sum().backward()
    ref["p64_grad_a1"] = a.grad
    print("grad |max|", a.grad.abs().max().item())

    # The released heads as the installed package ships them (legacy pickle).
    real = os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", "vgg.pth")
    rsd = torch.load(real, map_location="cpu")
    ref["real_vgg_head_sums"] = torch.stack([rsd[f"lin{k}.model.1.weight"].double().sum() for k in range(5)]).float()
    print("released vgg.pth head sums", ref["real_vgg_head_sums"].tolist())
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "lpips.ref.safetensors"))


if __name__ == "__main__":
    main()
