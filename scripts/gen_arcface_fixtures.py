"""Regenerate tests/fixtures/arcface/: outputs of the official IR-SE50 (`Backbone(112, 50,
drop_ratio=0.6, mode='ir_se')` of StyleCLIP's `models/facial_recognition/model_irse.py`) and of
`criteria/id_loss.py`'s preprocessing and loss, on deterministic weights.

    python scripts/gen_arcface_fixtures.py /path/to/orpatashnik/StyleCLIP

IR-SE50 has 43.8 M parameters, too many to commit, so the weights follow a formula that the Rust
test evaluates too: for the k-th key in sorted order and flat index i,
`u` = an integer hash of (k, i) mapped to [-1, 1) (`hash_uniform`), scaled by kind:
conv/linear weights `u · sqrt(3 / fan_in)`, BatchNorm weight `1 + 0.1 u`, bias and running mean
`0.1 u`, running variance `1 + 0.5 |u|`, PReLU `0.25 + 0.05 u`, linear bias `0.1 u`.
`keys.json` lists every state-dict key with its shape.
"""

import json
import math
import os
import sys
import types

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "arcface")


def hash_uniform(k, n):
    """Integer hash of (k, i) → [-1, 1): exact in any language (no overflow in int64)."""
    i = torch.arange(n, dtype=torch.int64)
    h = ((i * 2654435761) ^ (k * 97531 + 12345)) & 0xFFFFFFFF
    h = ((h ^ (h >> 15)) * 73244475) & 0xFFFFFFFF
    h = h ^ (h >> 13)
    return (h.double() / 4294967296.0 * 2 - 1).float()


def formula(key, k, shape):
    u = hash_uniform(k, math.prod(shape)).reshape(shape)
    last = key.rsplit(".", 1)[-1]
    if last == "running_var":
        return 1 + 0.5 * u.abs()
    if last == "running_mean":
        return 0.1 * u
    if len(shape) >= 2:  # conv / linear weight
        return u * math.sqrt(3.0 / math.prod(shape[1:]))
    if len(shape) == 1 and last == "weight" and "res_layer.2" in key or key == "input_layer.2.weight":
        return 0.25 + 0.05 * u  # PReLU
    if last == "weight":
        return 1 + 0.1 * u  # BatchNorm scale
    return 0.1 * u  # biases


def main():
    root = sys.argv[1]
    for pkg in ["models", "models.facial_recognition"]:
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    official_cpu.load_module("models.facial_recognition.helpers", f"{root}/models/facial_recognition/helpers.py")
    irse = official_cpu.load_module("models.facial_recognition.model_irse", f"{root}/models/facial_recognition/model_irse.py")
    net = irse.Backbone(input_size=112, num_layers=50, drop_ratio=0.6, mode="ir_se").eval()
    sd = net.state_dict()
    keys = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    with torch.no_grad():
        new = {k: formula(k, i, list(sd[k].shape)) for i, k in enumerate(keys)}
        net.load_state_dict(new, strict=False)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "keys.json"), "w") as f:
        json.dump({k: list(sd[k].shape) for k in keys}, f, indent=0, sort_keys=True)

    gen = torch.Generator().manual_seed(3)
    faces = torch.rand(2, 3, 112, 112, generator=gen) * 2 - 1
    y = torch.rand(2, 3, 256, 256, generator=gen) * 2 - 1
    y_hat = (y + 0.3 * torch.randn(2, 3, 256, 256, generator=gen)).clamp(-1, 1)
    big = torch.rand(1, 3, 320, 320, generator=gen) * 2 - 1
    pool = torch.nn.AdaptiveAvgPool2d((256, 256))
    face_pool = torch.nn.AdaptiveAvgPool2d((112, 112))

    def extract(x):  # criteria/id_loss.py IDLoss.extract_feats
        if x.shape[2] != 256:
            x = pool(x)
        return net(face_pool(x[:, :, 35:223, 32:220]))

    with torch.no_grad():
        ref = {
            "faces": faces,
            "faces_features": net(faces),
            "y": y,
            "y_hat": y_hat,
            "y_features": extract(y),
            "y_hat_features": extract(y_hat),
            "big": big,
            "big_features": extract(big),
            "body0": net.body[0](net.input_layer(faces[:1]))[:, :8],  # first 8 channels
        }
        feats_hat, feats = ref["y_hat_features"], ref["y_features"]
        ref["id_loss"] = (1 - (feats_hat * feats).sum(1)).mean().reshape(1)
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "irse50.ref.safetensors"))
    f = ref["faces_features"]
    print("id loss", ref["id_loss"].item(), "| cos(face0, face1)", (f[0] * f[1]).sum().item())


if __name__ == "__main__":
    main()
