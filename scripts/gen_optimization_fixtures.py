"""Regenerate tests/fixtures/optimization/: the official latent optimisation
(`optimization/run_optimization.py` `main`) run for a few steps on a tiny generator and a tiny
CLIP, in W+ and in StyleSpace, with every step's learning rate, CLIP loss and latent recorded.

    python scripts/gen_optimization_fixtures.py /path/to/orpatashnik/StyleCLIP /path/to/rosinality/stylegan2-pytorch

The official script is run unmodified on CPU through shims: `.cuda()` is the identity,
`clip.load` returns the tiny CLIP, the checkpoint download is skipped, and `IDLoss` (built even
when λ_ID = 0) is not constructed. The official code fixes `Generator(size, 512, 8)`, so the tiny
generator has style_dim 512 and 8 mapping layers, with small convolution channels; the CLIP
input is always 224 px there, so the tiny CLIP is 224 px with 32 px patches. Weights are saved
in f16 (and the official run uses the same rounded values) to keep the fixtures small.
"""

import os
import shutil
import sys
import types

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "optimization")
SIZE, CHANNELS, STEPS = 32, [16, 12, 10, 8], 6


def main():
    root = sys.argv[1]
    sc = official_cpu.styleclip_model(root)
    sys.modules["models"].__path__ = [f"{root}/models"]
    sys.path.insert(0, root)
    official_cpu.no_cuda()
    import clip
    from clip.model import CLIP

    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(99)

    # Tiny generator, f16-rounded weights.
    g = official_cpu.make_generator(sc, SIZE, 512, 8, CHANNELS)
    official_cpu.perturb_generator(g, gen, bias_scale=0.1, weights=False, noise_buffers=False)
    sd16 = {k: v.half() for k, v in g.state_dict().items()}
    torch.save({"g_ema": sd16}, os.path.join(OUT, "generator.pt"))
    ckpt_path = os.path.join(OUT, "_ckpt_f32.pt")
    torch.save({"g_ema": {k: v.float() for k, v in sd16.items()}}, ckpt_path)

    # Tiny CLIP at 224 px (2 vision heads, 2 text heads), real vocabulary size, f16-rounded.
    model = CLIP(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=128,
                 vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=32,
                 transformer_heads=2, transformer_layers=2).eval()
    with torch.no_grad():
        model.logit_scale.copy_(torch.tensor(4.0))
        for p in model.parameters():
            p.copy_(p.half().float())
    csd = {k: v.half() for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in csd.items()}, os.path.join(OUT, "clip.safetensors"))
    clip.load = lambda name, device=None, jit=False: (model, None)

    ro = official_cpu.load_module("run_optimization", f"{root}/optimization/run_optimization.py")
    ro.ensure_checkpoint_exists = lambda path: None
    ro.Generator = lambda size, style_dim, n_mlp: official_cpu.make_generator(sc, size, style_dim, n_mlp, CHANNELS)
    ro.IDLoss = lambda args: None

    n_latent = 2 * (SIZE.bit_length() - 1) - 2
    start = 0.8 * torch.randn(1, n_latent, 512, generator=gen)
    latent_path = os.path.join(OUT, "_start.pt")
    torch.save(start, latent_path)

    ref = {"start": start}
    for space in ("wplus", "stylespace"):
        record = {"clip": [], "latents": []}
        Base = ro.CLIPLoss

        class RecordingCLIPLoss(Base):
            def forward(self, image, text):
                out = super().forward(image, text)
                record["clip"].append(out.detach().reshape(-1).clone())
                return out

        ro.CLIPLoss = RecordingCLIPLoss
        adam_step = torch.optim.Adam.step

        def step(self, *a, **k):
            out = adam_step(self, *a, **k)
            params = self.param_groups[0]["params"]
            record["latents"].append(torch.cat([p.detach().reshape(-1) for p in params]).clone())
            return out

        torch.optim.Adam.step = step
        args = types.SimpleNamespace(
            description="a person with purple hair", ckpt=ckpt_path, stylegan_size=SIZE,
            lr_rampup=0.05, lr=0.1, step=STEPS, mode="edit", l2_lambda=0.008, id_lambda=0.0,
            latent_path=latent_path, truncation=0.7, work_in_stylespace=space == "stylespace",
            save_intermediate_image_every=0, results_dir=os.path.join(OUT, "_results"),
            ir_se50_weights=None)
        torch.manual_seed(0)
        final = ro.main(args)
        torch.optim.Adam.step = adam_step
        ro.CLIPLoss = Base
        ref[f"{space}_clip_loss"] = torch.cat(record["clip"])
        ref[f"{space}_latents"] = torch.stack(record["latents"])
        ref[f"{space}_lr"] = torch.tensor([ro.get_lr(i / STEPS, 0.1) for i in range(STEPS)])
        ref[f"{space}_final_image"] = final[1:].detach()
    save_file({k: v.float().contiguous() for k, v in ref.items()}, os.path.join(OUT, "run.ref.safetensors"),
              metadata={"steps": str(STEPS), "prompt": "a person with purple hair"})
    for tmp in [ckpt_path, latent_path]:
        os.remove(tmp)
    shutil.rmtree(os.path.join(OUT, "_results"), ignore_errors=True)
    print({k: tuple(v.shape) for k, v in ref.items()})
    print("W+ clip loss", ref["wplus_clip_loss"], "S clip loss", ref["stylespace_clip_loss"])


if __name__ == "__main__":
    main()
