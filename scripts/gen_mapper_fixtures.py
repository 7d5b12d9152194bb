"""Regenerate tests/fixtures/mapper/: the official latent mappers (`mapper/latent_mappers.py`) in
the official checkpoint format, their forward passes, and the official training loop
(`mapper/training/coach.py` `Coach.train`) run for a few steps with Adam and with Ranger.

    python scripts/gen_mapper_fixtures.py /path/to/orpatashnik/StyleCLIP

Everything official runs unmodified on CPU through shims:
- `.cuda()` is the identity; `clip.load` returns a tiny random CLIP (the one of
  tests/fixtures/optimization/clip.safetensors, 224 px);
- `latent_mappers.Mapper`'s default `latent_dim` is 64 instead of 512, and
  `STYLESPACE_DIMENSIONS` is the tiny generator's, so the fixtures stay small (the issue asks for
  any style_dim);
- `StyleCLIPMapper` builds `Generator(size, 512, 8)`; the shim builds the same class with
  style_dim 64, 2 mapping layers and small channels;
- the checkpoints' storages are tagged `cuda:0`, as in the released mappers saved from the GPU
  (the official loader maps them to the CPU);
- `Coach`'s tensorboard writer and image logging are no-ops (logging only); workers are 0 so the
  data loader's shuffled order can be recorded.

The coach runs `max_steps + 1` optimiser steps (it trains at `global_step == max_steps` before
breaking); every step's batch indices, losses and the mapper's output on a probe latent are
recorded, with the final mapper weights.
"""

import argparse
import os
import sys
import tempfile
import types

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, "..", "tests", "fixtures", "mapper")
SIZE, DIM, N_MLP, CHANNELS = 64, 64, 2, [16, 12, 10, 8, 8]
N_LATENT = 2 * (SIZE.bit_length() - 1) - 2  # 10: coarse 4, medium 4, fine 2
STEPS = 8  # covers Ranger's SGD phase (N_sma <= 5), its adaptive phase and one lookahead sync


def default_opts(**kw):
    o = dict(exp_dir=None, mapper_type="LevelsMapper", no_coarse_mapper=False,
             no_medium_mapper=False, no_fine_mapper=False, latents_train_path=None,
             latents_test_path=None, train_dataset_size=5000, test_dataset_size=1000,
             work_in_stylespace=False, batch_size=2, test_batch_size=1, workers=0,
             test_workers=0, learning_rate=0.5, optim_name="ranger", id_lambda=0.1,
             clip_lambda=1.0, latent_l2_lambda=0.8, stylegan_weights=None, stylegan_size=SIZE,
             ir_se50_weights=None, checkpoint_path=None, max_steps=50000, image_interval=100,
             board_interval=50, val_interval=2000, save_interval=2000, description="")
    o.update(kw)
    return argparse.Namespace(**o)


def perturb(module, gen):
    """Official init has zero biases: move every parameter so nothing hides behind zeros."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.copy_(30.0 * torch.randn(p.shape, generator=gen))  # × lr_mul 0.01 → 0.3
            else:
                p.add_(0.1 * p.abs().mean() * torch.randn(p.shape, generator=gen))


def main():
    root = sys.argv[1]
    sc = official_cpu.styleclip_model(root)
    sys.modules["models"].__path__ = [f"{root}/models"]
    sys.path.insert(0, root)
    official_cpu.no_cuda()
    tb = types.ModuleType("torch.utils.tensorboard")
    tb.SummaryWriter = lambda *a, **k: types.SimpleNamespace(add_scalar=lambda *a, **k: None)
    sys.modules["torch.utils.tensorboard"] = tb

    import clip
    from clip.model import CLIP
    from mapper import latent_mappers
    from mapper import styleclip_mapper
    from mapper.training import coach as coach_mod

    latent_mappers.Mapper.__init__.__defaults__ = (DIM,)
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)

    # Tiny generator (style_dim 64), perturbed.
    g = official_cpu.make_generator(sc, SIZE, DIM, N_MLP, CHANNELS)
    official_cpu.perturb_generator(g, gen, bias_scale=0.1, weights=False, noise_buffers=True)
    styleclip_mapper.Generator = lambda size, style_dim, n_mlp: official_cpu.make_generator(
        sc, size, DIM, N_MLP, CHANNELS)
    # StyleSpace dimensions of the tiny generator, official order (conv, torgb, conv, conv, torgb, ...).
    s_dims = [g.conv1.conv.modulation.weight.shape[0], g.to_rgb1.conv.modulation.weight.shape[0]]
    for i in range(len(g.to_rgbs)):
        s_dims += [g.convs[2 * i].conv.modulation.weight.shape[0],
                   g.convs[2 * i + 1].conv.modulation.weight.shape[0],
                   g.to_rgbs[i].conv.modulation.weight.shape[0]]
    latent_mappers.STYLESPACE_DIMENSIONS = s_dims

    ref = {}
    w = 0.8 * torch.randn(3, N_LATENT, DIM, generator=gen)
    ref["w"] = w

    def checkpoint(name, opts, mapper):
        perturb(mapper, gen)
        net_sd = {f"mapper.{k}": v for k, v in mapper.state_dict().items()}
        net_sd.update({f"decoder.{k}": v for k, v in g.state_dict().items()})
        # The released mappers were saved from the GPU: their storages say `cuda:0`.
        import torch.serialization as ser
        tag = ser.location_tag
        ser.location_tag = lambda storage: "cuda:0"
        try:
            torch.save({"state_dict": net_sd, "opts": vars(opts)}, os.path.join(OUT, name))
        finally:
            ser.location_tag = tag
        return mapper

    # LevelsMapper, all three levels.
    opts = default_opts(description="mohawk hairstyle")
    m = checkpoint("levels.pt", opts, latent_mappers.LevelsMapper(opts).eval())
    with torch.no_grad():
        ref["levels.delta"] = m(w)
        ref["levels.edited"] = w + 0.1 * m(w)

    # LevelsMapper without the coarse mapper (its keys are absent, its delta zero).
    opts_nc = default_opts(description="curly hair", no_coarse_mapper=True)
    m = checkpoint("levels_no_coarse.pt", opts_nc, latent_mappers.LevelsMapper(opts_nc).eval())
    with torch.no_grad():
        ref["no_coarse.delta"] = m(w)

    # SingleMapper.
    opts_s = default_opts(description="purple hair", mapper_type="SingleMapper")
    m = checkpoint("single.pt", opts_s, latent_mappers.SingleMapper(opts_s).eval())
    with torch.no_grad():
        ref["single.delta"] = m(w)

    # StyleSpace mapper (work_in_stylespace): one Mapper per non-ToRGB style layer.
    opts_ss = default_opts(description="smiling", work_in_stylespace=True)
    m = checkpoint("stylespace.pt", opts_ss, latent_mappers.WithoutToRGBStyleSpaceMapper(opts_ss).eval())
    with torch.no_grad():
        s = [0.5 * torch.randn(2, d, generator=gen) for d in s_dims]
        out = m(s)
    for i, (si, oi) in enumerate(zip(s, out)):
        ref[f"stylespace.s{i}"] = si
        ref[f"stylespace.delta{i}"] = oi

    # The coach, a few steps with each optimiser, starting from levels.pt.
    train = 0.8 * torch.randn(2 * STEPS, N_LATENT, DIM, generator=gen)
    test = 0.8 * torch.randn(2, N_LATENT, DIM, generator=gen)
    probe = 0.8 * torch.randn(1, N_LATENT, DIM, generator=gen)
    ref["train"], ref["test"], ref["probe"] = train, test, probe

    csd = load_file(os.path.join(HERE, "..", "tests", "fixtures", "optimization", "clip.safetensors"))
    model = CLIP(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=128,
                 vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=32,
                 transformer_heads=2, transformer_layers=2).eval()
    model.load_state_dict({k: v.float() for k, v in csd.items()})
    clip.load = lambda name, device=None, jit=False: (model, None)

    tmp = tempfile.mkdtemp()
    torch.save(train, os.path.join(tmp, "train.pt"))
    torch.save(test, os.path.join(tmp, "test.pt"))

    dataset_cls = coach_mod.LatentsDataset
    for optim in ("adam", "ranger"):
        order = []

        class Recording(dataset_cls):
            def __getitem__(self, index, order=order):
                if len(self.latents) == len(train):
                    order.append(index)
                return super().__getitem__(index)

        coach_mod.LatentsDataset = Recording
        opts = default_opts(description="mohawk hairstyle", optim_name=optim, id_lambda=0.0,
                            exp_dir=os.path.join(tmp, optim), max_steps=STEPS - 1,
                            checkpoint_path=os.path.join(OUT, "levels.pt"),
                            latents_train_path=os.path.join(tmp, "train.pt"),
                            latents_test_path=os.path.join(tmp, "test.pt"))
        torch.manual_seed(1)
        c = coach_mod.Coach(opts)
        c.parse_and_log_images = lambda *a, **k: None
        losses, probes = [], []
        calc = c.calc_loss

        def recording_loss(*a, **k):
            loss, d = calc(*a, **k)
            if torch.is_grad_enabled():
                losses.append([d["loss"], d["loss_clip"], d["loss_l2_latent"]])
            return loss, d

        c.calc_loss = recording_loss
        step = c.optimizer.step

        def recording_step(*a, **k):
            out = step(*a, **k)
            with torch.no_grad():
                probes.append(c.net.mapper(probe)[0])
            return out

        c.optimizer.step = recording_step
        c.train()
        assert len(losses) == STEPS and len(probes) == STEPS, (len(losses), len(probes))
        ref[f"{optim}.order"] = torch.tensor(order, dtype=torch.float32)
        ref[f"{optim}.losses"] = torch.tensor(losses, dtype=torch.float64).float()
        ref[f"{optim}.probe"] = torch.stack(probes)
        for k, v in c.net.mapper.state_dict().items():
            ref[f"{optim}.final.{k}"] = v

    # The optimisers alone, on a weight and a bias with random gradients: official Ranger
    # (`mapper/training/ranger.py`) and torch.optim.Adam, 13 steps (two lookahead syncs).
    from mapper.training.ranger import Ranger

    p0 = {"weight": torch.randn(6, 5, generator=gen), "bias": torch.randn(6, generator=gen)}
    grads = [{k: torch.randn(v.shape, generator=gen) for k, v in p0.items()} for _ in range(13)]
    for k, v in p0.items():
        ref[f"optim.init.{k}"] = v
    for i, gr in enumerate(grads):
        for k, v in gr.items():
            ref[f"optim.grad{i}.{k}"] = v
    for name, make in (("ranger", lambda ps: Ranger(ps, lr=0.3)),
                       ("adam", lambda ps: torch.optim.Adam(ps, lr=0.3))):
        ps = {k: torch.nn.Parameter(v.clone()) for k, v in p0.items()}
        opt = make(list(ps.values()))
        for i, gr in enumerate(grads):
            for k, p in ps.items():
                p.grad = gr[k].clone()
            opt.step()
            for k, p in ps.items():
                ref[f"optim.{name}{i}.{k}"] = p.detach().clone()

    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "mapper.ref.safetensors"),
              metadata={"steps": str(STEPS), "prompt": "mohawk hairstyle",
                        "s_dims": ",".join(map(str, s_dims))})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
