"""Regenerate tests/fixtures/e4e/: the official e4e encoder (`Encoder4Editing(50, 'ir_se', opts)`
of omertov/encoder4editing, `models/encoders/psp_encoders.py`) and pSp's inference path, on CPU.

    python scripts/gen_e4e_fixtures.py /path/to/omertov/encoder4editing

Two fixtures, neither holding the 100+ M parameters themselves:

1. `e4e64.ref.safetensors` (+ `keys64.json`): `stylegan_size=64` (10 heads), every weight and
   BatchNorm statistic from the integer-hash formula of `gen_arcface_fixtures.py` (the Rust test
   evaluates it too): conv/linear weights `u · sqrt(3 / fan_in)` (heads' convs `u · sqrt(6 /
   fan_in)`, equalised-lr linear weights `u · sqrt(3)`, as their raw init is N(0, 1)), BatchNorm
   weight `1 + 0.1 u`, bias and running mean `0.1 u`, running variance `1 + 0.5 |u|`, PReLU
   `0.25 + 0.05 u`. Two 256 px inputs, also from the formula. Saved: channel slices and spatial
   means of the taps c1/c2/c3 and of the pyramid p2/p1, every head's raw output, the encoder's
   output, and that plus a `[512]` latent_avg.
2. `e4e256_genuine.pt` (+ `e4e256_genuine.ref.safetensors`): a checkpoint in the released
   `e4e_ffhq_encode.pt` layout (`torch.save({"state_dict": pSp.state_dict(), "opts":
   vars(opts), "latent_avg"})`, `training/coach.py`) for `stylegan_size=256` (14 heads) with
   a small-channel decoder. To stay small, every tensor is an `as_strided` view of a few shared
   random base storages (`torch.save` keeps views as storage + offset + strides), except the
   blur kernels (stored as they are) and the BatchNorm statistics, set from one train-mode pass
   as training would (full tensors; with made-up ones the far-from-i.i.d. views make the
   activations grow through the 24 units). Reference: `load_e4e_standalone` (encoder + latent_avg hook) and
   `pSp.forward(randomize_noise=False, return_latents=True)` on the first formula input.
   `e4e_psp_opts.pt` is the same layout with two encoder tensors and
   `opts.encoder_type = 'GradualStyleEncoder'`, for the loader's refusal.

CPU shim: e4e's `models/stylegan2/op` compiles CUDA at import (`cpp_extension.load`) and has no
CPU path; its own `upfirdn2d_native` is used instead (it forgets to import `F`, given here), with
`fused_leaky_relu` = `leaky_relu(x + b, 0.2) · √2`. `matplotlib` (imported by `models/psp.py`) is
a stub. Nothing from the checkout is copied.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from gen_arcface_fixtures import hash_uniform  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "e4e")
IMAGE_K = 10_000_000  # hash key of the input images
AVG_K = 10_000_001  # hash key of fixture 1's latent_avg
DECODER_CHANNELS = 8


def formula(key, k, shape):
    u = hash_uniform(k, math.prod(shape)).reshape(shape)
    last = key.rsplit(".", 1)[-1]
    if last == "running_var":
        return 1 + 0.5 * u.abs()
    if last == "running_mean":
        return 0.1 * u
    if key.endswith("linear.weight"):  # EqualLinear: raw N(0, 1), scaled by 1/sqrt(512) at run time
        return u * math.sqrt(3.0)
    if key.startswith("styles.") and len(shape) == 4:  # heads' convs, each followed by LeakyReLU
        return u * math.sqrt(6.0 / math.prod(shape[1:]))
    if len(shape) >= 2:
        return u * math.sqrt(3.0 / math.prod(shape[1:]))
    if last == "weight" and ("res_layer.2" in key or key == "input_layer.2.weight"):
        return 0.25 + 0.05 * u  # PReLU
    if last == "weight":
        return 1 + 0.1 * u  # BatchNorm scale
    return 0.1 * u  # biases


def images(n):
    return hash_uniform(IMAGE_K, n * 3 * 256 * 256).reshape(n, 3, 256, 256)


def import_official(root):
    """`models.encoders.psp_encoders`, `models.psp`, `models.stylegan2.model` and
    `utils.model_utils` of the checkout, with the op shim in place."""
    import torch.utils.cpp_extension as cpp

    sys.path.insert(0, root)
    real_load = cpp.load
    cpp.load = lambda *a, **k: None  # the CUDA build at import
    try:
        up_mod = official_cpu.load_module("e4e_op_upfirdn2d", f"{root}/models/stylegan2/op/upfirdn2d.py")
        act = official_cpu.load_module("e4e_op_fused_act", f"{root}/models/stylegan2/op/fused_act.py")
    finally:
        cpp.load = real_load
    up_mod.F = F  # `upfirdn2d_native` uses `F` without importing it
    act.fused_leaky_relu = official_cpu.fused_leaky_relu  # FusedLeakyReLU.forward's global

    def upfirdn2d(input, kernel, up=1, down=1, pad=(0, 0)):
        """The op's signature on NCHW input, through the NHWC `upfirdn2d_native`."""
        b, c, h, w = input.shape
        out = up_mod.upfirdn2d_native(input.reshape(-1, h, w, 1), kernel, up, up, down, down,
                                      pad[0], pad[1], pad[0], pad[1])
        return out.reshape(b, c, out.shape[1], out.shape[2])

    import models.stylegan2  # noqa: F401  (the real package, so `op` can be registered below)

    official_cpu.stub("models.stylegan2.op", upfirdn2d=upfirdn2d,
                      fused_leaky_relu=official_cpu.fused_leaky_relu,
                      FusedLeakyReLU=act.FusedLeakyReLU)
    official_cpu.stub("matplotlib", use=lambda *a, **k: None)
    import models.encoders.psp_encoders as enc
    import models.psp as psp
    import models.stylegan2.model as model
    import utils.model_utils as model_utils

    return enc, psp, model, model_utils


def fixture_formula(enc):
    net = enc.Encoder4Editing(50, "ir_se", argparse.Namespace(stylegan_size=64)).eval()
    sd = net.state_dict()
    keys = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    with torch.no_grad():
        net.load_state_dict({k: formula(k, i, list(sd[k].shape)) for i, k in enumerate(keys)},
                            strict=False)
    with open(os.path.join(OUT, "keys64.json"), "w") as f:
        json.dump({k: list(sd[k].shape) for k in keys}, f, indent=0, sort_keys=True)

    x = images(2)
    taps = {}
    hooks = [net.body[i].register_forward_hook(
        lambda m, a, out, name=name: taps.__setitem__(name, out))
        for i, name in [(6, "c1"), (20, "c2"), (23, "c3")]]
    with torch.no_grad():
        codes = net(x)
        for h in hooks:
            h.remove()
        c1, c2, c3 = taps["c1"], taps["c2"], taps["c3"]
        p2 = enc._upsample_add(c3, net.latlayer1(c2))
        p1 = enc._upsample_add(p2, net.latlayer2(c1))
        levels = [c3] * 3 + [p2] * 4 + [p1] * 3
        heads = {f"head{i}": net.styles[i](levels[i]) for i in range(net.style_count)}
        latent_avg = hash_uniform(AVG_K, 512)
        ref = {
            "codes": codes,
            "latent_avg": latent_avg,
            # load_e4e_standalone's hook: outputs + latent_avg.repeat(B, 1, 1)
            "w_plus": codes + latent_avg.repeat(codes.shape[0], 1, 1),
            "c1": c1[:, ::32, ::2, ::2], "c2": c2[:, ::64], "c3": c3[:, ::128],
            "p2": p2[:, ::128], "p1": p1[:, ::128, ::2, ::2],
            **{f"{k}_mean": v.mean(dim=(2, 3)) for k, v in
               [("c1", c1), ("c2", c2), ("c3", c3), ("p2", p2), ("p1", p1)]},
            **heads,
        }
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "e4e64.ref.safetensors"))
    print("fixture 1: |codes| max", codes.abs().max().item(), "| head std",
          [round(heads[f"head{i}"].std().item(), 3) for i in (0, 3, 7)],
          "| c3 std", c3.std().item())


class Bases:
    """Shared random storages, one per value class; tensors are strided views of them."""

    LEN = 2048

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.bases = {}
        self.next_offset = 0

    def base(self, cls, make):
        if cls not in self.bases:
            u = torch.rand(self.LEN, generator=self.gen) * 2 - 1
            self.bases[cls] = make(u).contiguous()
        return self.bases[cls]

    def view(self, cls, make, shape):
        base = self.base(cls, make)
        # Small strides so any shape fits: the last dim steps by 1, the others by 1, 2, 1, 3, ...
        steps = [1, 2, 1, 3]
        stride = [1] * len(shape)
        for d in range(len(shape) - 2, -1, -1):
            stride[d] = steps[(len(shape) - 2 - d) % len(steps)]
        reach = sum((n - 1) * s for n, s in zip(shape, stride)) + 1
        assert reach <= self.LEN, (shape, reach)
        self.next_offset = (self.next_offset + 37) % 97
        offset = self.next_offset % (self.LEN - reach + 1)
        return base.as_strided(shape, stride, offset)


def genuine_value(bases, key, shape):
    """A view for `key` (full `state_dict` key): the value class follows the official init's
    scale, so activations stay O(1) through 24 residual units and 6-conv heads."""
    last = key.rsplit(".", 1)[-1]
    shape = list(shape)
    if key.endswith(".kernel"):  # FIR constants: stored as they are
        return None
    if last == "running_var":
        return bases.view("var", lambda u: 1 + 0.5 * u.abs(), shape)
    if last == "running_mean":
        return bases.view("small", lambda u: 0.1 * u, shape)
    dec = key.startswith("decoder.")
    if dec:
        if key.endswith("modulation.bias"):
            return bases.view("one", lambda u: 1 + 0.1 * u, shape)
        if last == "bias" or key.endswith("noise.weight"):
            return bases.view("small", lambda u: 0.1 * u, shape)
        if key.startswith("decoder.style."):  # raw N(0, 1) / lr_mul (0.01)
            return bases.view("mapping", lambda u: u * math.sqrt(3.0) * 100, shape)
        return bases.view("normal", lambda u: u * math.sqrt(3.0), shape)  # raw N(0, 1)
    if key.endswith("linear.weight"):
        return bases.view("normal", lambda u: u * math.sqrt(3.0), shape)
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        gain = 6.0 if ".styles." in key else 3.0
        return bases.view(f"w{gain}/{fan_in}", lambda u: u * math.sqrt(gain / fan_in), shape)
    if last == "weight" and ("res_layer.2" in key or key.endswith("input_layer.2.weight")):
        return bases.view("prelu", lambda u: 0.25 + 0.05 * u, shape)
    if last == "weight":
        return bases.view("one", lambda u: 1 + 0.1 * u, shape)
    return bases.view("small", lambda u: 0.1 * u, shape)


def calibrate_batchnorm(e, state):
    """Set the encoder's BatchNorm statistics as training would: to the batch statistics of an
    input (one train-mode pass at momentum 1). The strided views are far from i.i.d., and with
    made-up statistics the activations grow through the 24 units; these keep them O(1). The
    statistics are stored as full tensors."""
    e.load_state_dict({k[len("encoder."):]: v for k, v in state.items()
                       if k.startswith("encoder.")})
    bns = [m for m in e.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0
    e.train()
    with torch.no_grad():
        e(hash_uniform(IMAGE_K + 2, 3 * 256 * 256).reshape(1, 3, 256, 256))
    e.eval()
    for name, buf in e.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            state["encoder." + name] = buf.clone()


def genuine_opts(root, size, encoder_type="Encoder4Editing"):
    from options.train_options import TrainOptions

    opts = TrainOptions().parser.parse_args([
        "--exp_dir", "experiments/ffhq_encode", "--start_from_latent_avg",
        "--stylegan_size", str(size), "--encoder_type", encoder_type,
    ])
    opts.device = "cuda:0"  # what training/coach.py sets
    return vars(opts)


def fixture_genuine(root, enc, psp, model, model_utils):
    size = 256
    n_styles = 2 * int(math.log2(size)) - 2
    channels = [DECODER_CHANNELS] * (int(math.log2(size)) - 1)

    # pSp builds `Generator(size, 512, 8, channel_multiplier=2)`; the fixture's is narrow.
    def small_generator(size_, style_dim, n_mlp, channel_multiplier=2):
        return official_cpu.make_generator(model, size_, style_dim, n_mlp, channels)

    psp.Generator = small_generator
    e = enc.Encoder4Editing(50, "ir_se", argparse.Namespace(stylegan_size=size))
    g = small_generator(size, 512, 8)
    bases = Bases(seed=7)
    state = {}
    for prefix, module in [("encoder.", e), ("decoder.", g)]:
        for k, v in module.state_dict().items():
            full = prefix + k
            if k.endswith("num_batches_tracked"):
                state[full] = torch.tensor(5000, dtype=torch.int64)
                continue
            view = genuine_value(bases, full, v.shape)
            state[full] = v.clone() if view is None else view
    calibrate_batchnorm(e, state)
    w_avg = bases.view("normal", lambda u: u * math.sqrt(3.0), [512]).clone()
    ckpt = {"state_dict": state, "opts": genuine_opts(root, size),
            "latent_avg": w_avg.repeat(n_styles, 1)}  # coach: mean w repeated per style
    path = os.path.join(OUT, "e4e256_genuine.pt")
    torch.save(ckpt, path)
    print("fixture 2:", os.path.getsize(path), "bytes,", len(state), "tensors,",
          len(bases.bases), "bases")

    x = images(1)
    with torch.no_grad():
        standalone = model_utils.load_e4e_standalone(path, device="cpu")
        w_plus = standalone(x)
        net, _ = model_utils.setup_model(path, device="cpu")
        image, latents = net(x, randomize_noise=False, return_latents=True)
    assert torch.equal(w_plus, latents), "pSp's latents differ from load_e4e_standalone's"
    ref = {
        "w_plus": w_plus,
        "image_sub": image[:, :, ::8, ::8],
        "image_mean": image.mean(dim=(2, 3)),
    }
    save_file({k: v.contiguous() for k, v in ref.items()},
              os.path.join(OUT, "e4e256_genuine.ref.safetensors"))
    print("fixture 2: |w+| max", w_plus.abs().max().item(), "| image std", image.std().item())

    # The same layout claiming pSp's encoder: the loader must refuse it.
    small = {k: state[k] for k in ["encoder.input_layer.0.weight", "encoder.styles.0.linear.weight"]}
    torch.save({"state_dict": small, "opts": genuine_opts(root, size, "GradualStyleEncoder"),
                "latent_avg": ckpt["latent_avg"]}, os.path.join(OUT, "e4e_psp_opts.pt"))


def main():
    root = os.path.abspath(sys.argv[1])
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    enc, psp, model, model_utils = import_official(root)
    fixture_formula(enc)
    fixture_genuine(root, enc, psp, model, model_utils)


if __name__ == "__main__":
    main()
