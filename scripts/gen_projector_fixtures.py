"""Regenerate tests/fixtures/projector/: rosinality's `projector.py` run as a script (its
`__main__` block, unmodified) for a few steps on the tiny 32 px generator of
tests/fixtures/optimization/generator.pt, in W and in W+ mode, with every step recorded.

    python scripts/gen_projector_fixtures.py /path/to/rosinality/stylegan2-pytorch /path/to/orpatashnik/StyleCLIP

What the shims change, and nothing else:
- `device = "cuda"` is hard-coded: `.to("cuda")` is the identity and `torch.randn(...,
  device="cuda")` draws on the CPU.
- `from model import Generator` gets rosinality's `model.py` (CPU `op` stand-ins from
  official_cpu.py) with the fixture's channel table (16, 12, 10, 8) instead of 512 everywhere.
- `torch.load(args.ckpt)` reads the fixture generator (f16 weights, loaded as f32).
- `lpips.PerceptualLoss`: in modes `w` and `wplus` a stand-in that returns 0, so the loss is
  `1e5 · noise_regularize + MSE` (`--mse 1`); in mode `wplus_lpips` (the official defaults,
  `--mse 0`) PyPI `lpips.LPIPS(net='vgg', version='0.1')` (bit-identical to the copy bundled
  with the projector) with the formula weights of scripts/gen_lpips_fixtures.py, called as the
  bundled `PerceptualLoss.forward(pred, target)` calls its model: `model(target, pred)`.
- `torch.optim.Adam` is the real one, subclassed only to record, after each `step()`, the
  script's own loss terms, learning rate and noise strength; the initial
  noise maps are recorded when the optimiser is built. `torch.randn_like` (the per-step latent
  noise) is recorded as drawn.
- The script ends with `latent_path[-1]`, an IndexError under 100 steps (an official quirk);
  the loop has finished by then and everything is recorded.
"""

import os
import sys
import tempfile
import types

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "projector")
GENERATOR = os.path.join(HERE, "..", "tests", "fixtures", "optimization", "generator.pt")
SIZE, CHANNELS, STEPS, N = 32, [16, 12, 10, 8], 6, 2


def main():
    rosi, sc = sys.argv[1], sys.argv[2]
    model = official_cpu.rosinality_model(rosi, sc)
    for cls in (torch.Tensor, torch.nn.Module):
        cls.to = (lambda orig: lambda self, *a, **k:
                  self if a and a[0] == "cuda" else orig(self, *a, **k))(cls.to)
    fake_model = types.ModuleType("model")
    fake_model.Generator = lambda size, sd, n_mlp: official_cpu.make_generator(
        model, size, sd, n_mlp, CHANNELS)
    sys.modules["model"] = fake_model

    class NoPercept:
        def __init__(self, *a, **k):
            pass

        def __call__(self, a, b):
            return torch.zeros(a.shape[0], 1, 1, 1)

    import lpips as pypi_lpips
    import gen_lpips_fixtures

    class FormulaLpips:
        def __init__(self, *a, **k):
            self.net = pypi_lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False)
            w = gen_lpips_fixtures.formula_weights()
            sd = {}
            for k2, v in w.items():
                if k2.startswith("features."):
                    n = int(k2.split(".")[1])
                    sd[f"net.slice{gen_lpips_fixtures.SLICE_OF[n]}.{k2[len('features.'):]}"] = v
                else:
                    sd[k2] = v
            missing, unexpected = self.net.load_state_dict(sd, strict=False)
            assert not unexpected, unexpected
            assert all(m.startswith(("lins.", "scaling_layer.")) for m in missing), missing
            self.net.eval()

        def __call__(self, pred, target):
            return self.net(target, pred)

    sys.modules.pop("lpips", None)
    sys.modules["lpips_pypi"] = pypi_lpips
    percept = {"impl": NoPercept}

    class Switch:
        def __init__(self, *a, **k):
            self.inner = percept["impl"](*a, **k)

        def __call__(self, a, b):
            return self.inner(a, b)

    official_cpu.stub("lpips", PerceptualLoss=Switch)
    ckpt = torch.load(GENERATOR, weights_only=False)
    real_load = torch.load
    torch.load = lambda path, *a, **k: ckpt if path == "generator.pt" else real_load(path, *a, **k)

    # Targets: the generator's own images of two random W, plus a little noise, as PNGs.
    g = fake_model.Generator(SIZE, 512, 8)
    g.load_state_dict({k: v.float() for k, v in ckpt["g_ema"].items()}, strict=False)
    g.eval()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w = g.style(torch.randn(N, 512, generator=gen))
        img, _ = g([w], input_is_latent=True, randomize_noise=False)
        img = (img + 0.1 * torch.randn(img.shape, generator=gen)).clamp(-1, 1)
    arrays = ((img.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)

    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, a in enumerate(arrays):
            path = os.path.join(tmp, f"target{i}.png")
            Image.fromarray(a).save(path)
            files.append(path)
            Image.fromarray(a).save(os.path.join(OUT, f"target{i}.png"))
        for mode in ["w", "wplus"]:
            tensors.update(run(mode, files, tmp))
        percept["impl"] = FormulaLpips
        tensors.update(run("wplus_lpips", files, tmp))
    save_file({k: v.contiguous() for k, v in tensors.items()},
              os.path.join(OUT, "run.ref.safetensors"))


def run(mode, files, cwd):
    ns = {"__name__": "__main__", "__file__": "projector.py"}
    record = {"draws": [], "steps": []}
    real_randn_like = torch.randn_like

    def randn_like(x, *a, **k):
        out = real_randn_like(x, *a, **k)
        record["draws"].append(out.clone())
        return out

    class Recording(torch.optim.Adam):
        def __init__(self, params, **k):
            params = list(params)
            record["noises0"] = [p.detach().clone() for p in params[1:]]
            super().__init__(params, **k)

        def step(self, *a, **k):
            out = super().step(*a, **k)
            record["steps"].append({
                "lr": ns["lr"],
                "strength": float(ns["noise_strength"]),
                "p_loss": float(ns["p_loss"]),
                "n_loss": float(ns["n_loss"]),
                "mse": float(ns["mse_loss"]),
                "loss": float(ns["loss"]),
            })
            return out

    real_randn = torch.randn

    def randn(*a, device=None, **k):
        return real_randn(*a, device=None if device == "cuda" else device, **k)

    real_adam = torch.optim.Adam
    torch.optim.Adam = Recording
    torch.randn = randn
    torch.randn_like = randn_like
    argv = sys.argv
    sys.argv = (["projector.py", "--ckpt", "generator.pt", "--size", str(SIZE), "--step",
                 str(STEPS), "--mse", "0" if mode == "wplus_lpips" else "1"]
                + (["--w_plus"] if mode.startswith("wplus") else []) + files)
    torch.manual_seed({"w": 11, "wplus": 12, "wplus_lpips": 13}[mode])
    src = open(os.path.join(sys.modules["rosinality_model"].__file__.rsplit("/", 1)[0],
                            "projector.py")).read()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        exec(compile(src, "projector.py", "exec"), ns)
    except IndexError:
        pass  # latent_path[-1] under 100 steps: the loop is done
    finally:
        os.chdir(here)
        sys.argv = argv
        torch.optim.Adam = real_adam
        torch.randn_like = real_randn_like
        torch.randn = real_randn
    assert len(record["steps"]) == STEPS, len(record["steps"])
    p = f"{mode}."
    out = {
        p + "latent_mean": ns["latent_mean"].detach(),
        p + "latent_std": ns["latent_std"].detach().reshape(1),
        p + "target": ns["imgs"].detach(),
        p + "final_latent": ns["latent_in"].detach(),
        p + "lr": torch.tensor([s["lr"] for s in record["steps"]], dtype=torch.float64),
        p + "strength": torch.tensor([s["strength"] for s in record["steps"]],
                                     dtype=torch.float64),
        p + "p_loss": torch.tensor([s["p_loss"] for s in record["steps"]], dtype=torch.float64),
        p + "n_loss": torch.tensor([s["n_loss"] for s in record["steps"]], dtype=torch.float64),
        p + "mse": torch.tensor([s["mse"] for s in record["steps"]], dtype=torch.float64),
        p + "loss": torch.tensor([s["loss"] for s in record["steps"]], dtype=torch.float64),
        p + "draws": torch.stack(record["draws"]),
    }
    for j, (n0, n1) in enumerate(zip(record["noises0"], ns["noises"])):
        out[f"{p}noise0.{j}"] = n0
        out[f"{p}noise.{j}"] = n1.detach()
    print(mode, "loss", [round(s["loss"], 5) for s in record["steps"]])
    return out


if __name__ == "__main__":
    main()
