r"""Time the official inversion code on CPU with random weights, on the cases of
`benches/invert.rs` (2 threads, float32, batch 1):

- `e4e_encode/{256,1024}`: e4e's `Encoder4Editing(50, 'ir_se', Namespace(stylegan_size=S))`
  (omertov/encoder4editing, `models/encoders/psp_encoders.py`) forward on one 256 px image,
  under `no_grad`, in eval mode;
- `projector_step/{64,256}`: one iteration of the loop of rosinality's `projector.py` in W+
  (`--w_plus`, `--mse 0`, the other defaults) on `Generator(S, 512, 8)` (config-f): latent
  noise, synthesis with the optimised noise maps, LPIPS + `noise_regularize` (+ MSE), backward,
  Adam, `noise_normalize_`. `noise_regularize`, `noise_normalize_`, `get_lr` and
  `latent_noise` are projector.py's own; the perceptual loss is PyPI
  `lpips.LPIPS(net='vgg', pnet_rand=True)` (bit-identical to the `PerceptualLoss` bundled
  with the projector, called as that calls it: `model(target, pred)`), frozen. As in
  projector.py the generator's parameters keep `requires_grad=True`, so `backward` also
  computes their (unused) gradients; `projector_step_frozen_g/S` is the same step with the
  generator frozen, as `benches/invert.rs` runs it (printed for reference; not compared).
  Not timed: the latent statistics (10 000 mapped z) and the initial noise maps.

    python scripts/bench_invert_torch.py /path/to/encoder4editing /path/to/stylegan2-pytorch \
        /path/to/StyleCLIP

The e4e checkout is imported with the CPU op shim of `gen_e4e_fixtures.py`; rosinality's
`model.py` with `official_cpu.rosinality_model` (StyleCLIP's pure-torch `upfirdn2d`).
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402


def bench_e4e(e4e_root):
    from gen_e4e_fixtures import import_official

    enc, _psp, _model, _utils = import_official(e4e_root)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    for size in (256, 1024):
        net = enc.Encoder4Editing(50, "ir_se", argparse.Namespace(stylegan_size=size)).eval()
        assert net.style_count == {256: 14, 1024: 18}[size]
        with torch.no_grad():
            ms, n = timeit(lambda: net(x))
        print(f"e4e_encode/{size}  {ms:.1f} ms  ({n} runs)", flush=True)


def bench_projector(rosi_root, styleclip_root):
    import lpips as pypi_lpips

    model = official_cpu.rosinality_model(rosi_root, styleclip_root)
    # projector.py imports `lpips` (PyPI's here, unused: only its functions are taken) and
    # `from model import Generator`.
    sys.modules["model"] = model
    proj = official_cpu.load_module("rosinality_projector", f"{rosi_root}/projector.py")
    percept = pypi_lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False).eval()
    for p in percept.parameters():
        p.requires_grad_(False)

    for size in (64, 256):
        for frozen in (False, True):
            torch.manual_seed(0)
            g_ema = model.Generator(size, 512, 8).eval()  # channel_multiplier=2: config-f
            if frozen:
                for p in g_ema.parameters():
                    p.requires_grad_(False)
            imgs = torch.rand(1, 3, size, size) * 2 - 1
            with torch.no_grad():  # setup, not timed
                latent_out = g_ema.style(torch.randn(10000, 512))
                latent_mean = latent_out.mean(0)
                latent_std = ((latent_out - latent_mean).pow(2).sum() / 10000) ** 0.5
            noises = [n.repeat(1, 1, 1, 1).normal_() for n in g_ema.make_noise()]
            latent_in = latent_mean.detach().clone().unsqueeze(0).repeat(1, 1)
            latent_in = latent_in.unsqueeze(1).repeat(1, g_ema.n_latent, 1)
            latent_in.requires_grad = True
            for noise in noises:
                noise.requires_grad = True
            optimizer = torch.optim.Adam([latent_in] + noises, lr=0.1)
            steps, args_noise, noise_ramp, noise_reg, mse = 1000, 0.05, 0.75, 1e5, 0.0
            counter = [0]

            def step():  # projector.py's loop body, iteration i
                i = counter[0] % steps
                counter[0] += 1
                t = i / steps
                lr = proj.get_lr(t, 0.1)
                optimizer.param_groups[0]["lr"] = lr
                noise_strength = latent_std * args_noise * max(0, 1 - t / noise_ramp) ** 2
                latent_n = proj.latent_noise(latent_in, noise_strength.item())
                img_gen, _ = g_ema([latent_n], input_is_latent=True, noise=noises)
                # PerceptualLoss(pred, target) calls its model as model(target, pred)
                p_loss = percept(imgs, img_gen).sum()
                n_loss = proj.noise_regularize(noises)
                mse_loss = torch.nn.functional.mse_loss(img_gen, imgs)
                loss = p_loss + noise_reg * n_loss + mse * mse_loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                proj.noise_normalize_(noises)
                # pbar.set_description reads these back
                return p_loss.item(), n_loss.item(), mse_loss.item()

            ms, n = timeit(step)
            name = "projector_step_frozen_g" if frozen else "projector_step"
            print(f"{name}/{size}  {ms:.1f} ms  ({n} runs)", flush=True)


def main():
    e4e_root, rosi_root, styleclip_root = (os.path.abspath(p) for p in sys.argv[1:4])
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)
    bench_e4e(e4e_root)
    bench_projector(rosi_root, styleclip_root)


if __name__ == "__main__":
    main()
