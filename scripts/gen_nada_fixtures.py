"""Regenerate tests/fixtures/nada/: the official StyleGAN-NADA (`ZSSGAN/`) run unmodified on CPU
on a tiny generator and two tiny CLIPs.

    python scripts/gen_nada_fixtures.py /path/to/rinongal/StyleGAN-nada /path/to/orpatashnik/StyleCLIP /path/to/rosinality/stylegan2-pytorch

Shims (nothing from the checkouts is copied or edited):
- an `op` package of pure-torch ops (`official_cpu`), so `sg2_model` imports without CUDA;
- `clip.load` returns the tiny CLIPs (and the first one for the "RN50" every `CLIPLoss` loads);
- `ZSSGAN.Generator` builds the tiny generator (32 px, style_dim 64, 2 mapping layers, small
  channels); `SG2Generator.forward` runs with `randomize_noise=False` (the checkpoint's noise);
- the `ZSSGAN` object is made with `__new__` (its `__init__` hard-codes CUDA) and set up as
  `__init__` does; `torch.randn` hands `determine_opt_layers` the fixed selection z (it asks for
  `[auto_layer_batch, 512]`: the official code hard-codes z_dim 512);
- `Tensor.cpu()` copies, as it does from CUDA (see `determine_opt_layers` below);
- the training steps are `train.py`'s loop body: `net.train()`, `net([z])`, `net.zero_grad()`,
  `loss.backward()`, `g_optim.step()`, with its Adam (lr·4/5, betas (0, 0.99^(4/5))).

The first tiny CLIP is tests/fixtures/optimization/clip.safetensors (224 px, 32 px patches); the
second is that one with `visual.proj`, `text_projection` and `logit_scale` replaced, stored as a
delta (clip2_delta.safetensors). The trainable generator starts from a perturbed copy of the
frozen one (official `--train_gen_ckpt`), so the step-0 images differ and the official
zero-direction guard (a direction from `I(x + 1e-6) − I(x)`, rounding noise) is not hit.
"""

import json
import os
import sys
import types

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "nada")
CLIP1 = os.path.join(HERE, "..", "tests", "fixtures", "optimization", "clip.safetensors")
SIZE, STYLE_DIM, N_MLP, CHANNELS = 32, 64, 2, [16, 12, 10, 8]
SEL_B, BATCH, STEPS, STEPS_B = 3, 2, 5, 3


def tiny_clip(CLIP, sd):
    m = CLIP(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=128,
             vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=32,
             transformer_heads=2, transformer_layers=2).eval()
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    return m


def main():
    nada_root, styleclip_root, rosi_root = sys.argv[1:4]
    gradfix = official_cpu.load_module("op.conv2d_gradfix", f"{rosi_root}/op/conv2d_gradfix.py")
    official_cpu._op_package("op", styleclip_root, {"conv2d_gradfix": gradfix})
    sys.path.insert(0, f"{nada_root}/ZSSGAN")
    sys.path.insert(0, nada_root)
    from gen_tokenizer_fixtures import _shim_pkg_resources
    _shim_pkg_resources()
    import clip
    from clip.model import CLIP
    from ZSSGAN.model import sg2_model
    from ZSSGAN.model import ZSSGAN as zmod
    from ZSSGAN.criteria import clip_loss as cl
    from ZSSGAN.utils.text_templates import imagenet_templates

    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(11)

    # Two tiny CLIPs.
    sd1 = load_file(CLIP1)
    sd2 = dict(sd1)
    delta = {
        "visual.proj": (torch.randn(128, 32, generator=gen) * 128 ** -0.5).half(),
        "text_projection": (torch.randn(32, 32, generator=gen) * 32 ** -0.5).half(),
        "logit_scale": torch.tensor(3.0).half(),
    }
    sd2.update(delta)
    save_file(delta, os.path.join(OUT, "clip2_delta.safetensors"))
    models = {"A": tiny_clip(CLIP, sd1), "B": tiny_clip(CLIP, sd2)}
    models["RN50"] = models["A"]
    clip.load = lambda name, device=None, jit=False: (models[name], clip.clip._transform(224))

    # Tiny generator (frozen) and a perturbed copy (trainable start), f16-rounded.
    zmod.Generator = lambda size, style_dim=512, n_mlp=8, channel_multiplier=2: \
        official_cpu.make_generator(sg2_model, size, STYLE_DIM, N_MLP, CHANNELS)
    g = zmod.Generator(SIZE)
    official_cpu.perturb_generator(g, gen, bias_scale=0.1, weights=True, noise_buffers=True)
    sd16 = {k: v.half() for k, v in g.state_dict().items()}
    torch.save({"g_ema": sd16}, os.path.join(OUT, "generator.pt"))
    with torch.no_grad():
        for name, p in g.named_parameters():
            if not name.startswith("style."):
                p.add_(0.05 * p.abs().mean() * torch.randn(p.shape, generator=gen))
    sd16t = {k: v.half() for k, v in g.state_dict().items()}
    torch.save({"g_ema": sd16t}, os.path.join(OUT, "generator_train.pt"))
    ck_f = os.path.join(OUT, "_f.pt")
    ck_t = os.path.join(OUT, "_t.pt")
    torch.save({"g_ema": {k: v.float() for k, v in sd16.items()}}, ck_f)
    torch.save({"g_ema": {k: v.float() for k, v in sd16t.items()}}, ck_t)

    fwd = zmod.SG2Generator.forward

    def const_noise_forward(self, styles, *a, **k):
        k["randomize_noise"] = False
        return fwd(self, styles, *a, **k)

    zmod.SG2Generator.forward = const_noise_forward

    ref, meta = {}, {}

    # Phase presets, as module names.
    sg = zmod.SG2Generator(ck_f, img_size=SIZE, device="cpu")
    names = {id(m): n for n, m in sg.generator.named_modules()}
    meta["phases"] = {str(p): [names[id(m)] for m in sg.get_training_layers(p)]
                      for p in ["texture", "shape", "no_fine", "shape_expanded", "all", None]}
    meta["n_templates"] = len(imagenet_templates)

    # Losses on given images.
    imgs_a = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    imgs_b = (imgs_a + 0.3 * torch.randn(2, 3, SIZE, SIZE, generator=gen)).clamp(-1.2, 1.2)
    ref["imgs_a"], ref["imgs_b"] = imgs_a, imgs_b
    for mname in ["A", "B"]:
        for kind in ["cosine", "mse", "mae"]:
            loss = cl.CLIPLoss("cpu", lambda_direction=1.0, direction_loss_type=kind, clip_model=mname)
            ref[f"{mname}_dir_{kind}"] = loss.clip_directional_loss(imgs_a, "photo", imgs_b, "sketch").reshape(1).detach()
            if kind == "cosine":
                ref[f"{mname}_text_direction"] = loss.target_direction.detach()
                ref[f"{mname}_global_a"] = loss.global_clip_loss(imgs_b, ["a sketch"]).reshape(1).detach()
                ref[f"{mname}_global_raw"] = loss.global_clip_loss(imgs_b, "sketch").reshape(1).detach()
                ref[f"{mname}_manifold"] = loss.clip_angle_loss(imgs_a, "photo", imgs_b, "sketch").reshape(1).detach()
                # Image targets: two small PNGs.
                paths = []
                for j, (w, h) in enumerate([(40, 30), (28, 36)]):
                    yy, xx = np.mgrid[0:h, 0:w]
                    arr = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 97 + 31 * j) % 256], -1)
                    path = os.path.join(OUT, f"target{j}.png")
                    Image.fromarray(arr.astype(np.uint8)).save(path)
                    paths.append(path)
                ref[f"{mname}_img2img"] = loss.compute_img2img_direction(imgs_a, paths).detach()

    # The ZSSGAN object, set up as __init__ does, on CPU.
    def make_net(phase, k, iters, clip_weights, lambdas, kind):
        net = zmod.ZSSGAN.__new__(zmod.ZSSGAN)
        torch.nn.Module.__init__(net)
        net.args = types.SimpleNamespace(sg3=False, sgxl=False, auto_layer_batch=SEL_B, phase=phase)
        net.device = "cpu"
        net.generator_frozen = zmod.SG2Generator(ck_f, img_size=SIZE, device="cpu")
        net.generator_trainable = zmod.SG2Generator(ck_t, img_size=SIZE, device="cpu")
        net.generator_frozen.freeze_layers()
        net.generator_frozen.eval()
        net.generator_trainable.freeze_layers()
        net.generator_trainable.unfreeze_layers(net.generator_trainable.get_training_layers(phase))
        net.generator_trainable.train()
        lg, ld, lm = lambdas
        net.clip_loss_models = {m: cl.CLIPLoss("cpu", lambda_direction=ld, lambda_global=lg,
                                               lambda_manifold=lm, direction_loss_type=kind, clip_model=m)
                                for m in dict(clip_weights)}
        net.clip_model_weights = dict(clip_weights)
        net.source_class, net.target_class = "photo", "sketch"
        net.auto_layer_k, net.auto_layer_iters = k, iters
        return net

    queue = []
    real_randn = torch.randn

    def fake_randn(*a, **k):
        if queue and tuple(a[:2]) == (SEL_B, 512):
            return queue.pop(0).clone()
        return real_randn(*a, **k)

    torch.randn = fake_randn
    # `determine_opt_layers` copies the start codes with `torch.Tensor(w.cpu().detach().numpy())`:
    # on CUDA `.cpu()` copies, on CPU it does not, and the SGD steps would move the start codes
    # too (every score 0). A copying `.cpu()` gives the CUDA behaviour.
    torch.Tensor.cpu = lambda self, *a, **k: self.clone()
    scores = []
    real_topk = torch.topk

    def recording_topk(x, k, *a, **kw):
        scores.append(x.detach().clone())
        return real_topk(x, k, *a, **kw)

    torch.topk = recording_topk

    def train(net, steps, prefix, record_params):
        ratio = 4 / 5
        g_optim = torch.optim.Adam(net.generator_trainable.parameters(), lr=0.002 * ratio,
                                   betas=(0 ** ratio, 0.99 ** ratio))
        tnames = {id(m): n for n, m in net.generator_trainable.generator.named_modules()}
        chosen = []
        det = net.determine_opt_layers

        def recording_det():
            layers = det()
            chosen.append([tnames[id(m)] for m in layers])
            return layers

        net.determine_opt_layers = recording_det
        keys = [k for k in net.generator_trainable.generator.state_dict()
                if not (k.startswith("style.") or k.startswith("noises.") or k.endswith("kernel"))]
        zs = torch.randn(steps, BATCH, STYLE_DIM, generator=gen)
        zsel = torch.randn(steps, SEL_B, STYLE_DIM, generator=gen)
        losses, params = [], []
        for i in range(steps):
            net.train()
            queue.append(zsel[i])
            _, loss = net([zs[i]])
            net.zero_grad()
            loss.backward()
            g_optim.step()
            losses.append(float(loss))
            sd = net.generator_trainable.generator.state_dict()
            params.append(torch.cat([sd[k].detach().reshape(-1) for k in keys]))
        ref[f"{prefix}_z"], ref[f"{prefix}_zsel"] = zs, zsel
        if scores:
            ref[f"{prefix}_scores"] = torch.stack(scores)
            print("scores", ref[f"{prefix}_scores"])
            scores.clear()
        ref[f"{prefix}_loss"] = torch.tensor(losses, dtype=torch.float64)
        ref[f"{prefix}_params"] = torch.stack(params if record_params else params[-1:])
        meta[f"{prefix}_keys"] = keys
        meta[f"{prefix}_chosen"] = chosen
        print(prefix, losses, chosen)

    # A: two CLIPs (1.0, 0.5), global + direction + manifold, adaptive selection k=2, 2 iters.
    train(make_net(None, 2, 2, [("A", 1.0), ("B", 0.5)], (0.5, 1.0, 0.3), "cosine"), STEPS, "a", True)
    # B: phase texture, no selection, one CLIP, mse direction loss.
    train(make_net("texture", 0, 0, [("A", 1.0)], (0.0, 1.0, 0.0), "mse"), STEPS_B, "b", False)

    save_file({k: v.float().contiguous() for k, v in ref.items()}, os.path.join(OUT, "ref.safetensors"),
              metadata={"meta": json.dumps(meta)})
    for p in [ck_f, ck_t]:
        os.remove(p)
    print({k: tuple(v.shape) for k, v in ref.items()})


if __name__ == "__main__":
    main()
