r"""Time one official StyleGAN-NADA training step on CPU with random weights, on the cases of
`benches/nada.rs` (2 threads, float32): a 256 px config-f generator (`SG2Generator(ckpt,
img_size=256)`, i.e. `Generator(256, 512, 8, channel_multiplier=2)`), one ViT-B/32 CLIP
(weight 1.0), batch 2 (the README's `--batch 2`; the option's default is 16), "photo" →
"sketch", the official loss defaults (`--lambda_direction 1`, the other λ 0, cosine), phase
`None`, Adam as `train.py` builds it (lr 0.002·4/5, betas (0, 0.99^(4/5))), no mixing:

- `nada_step/phase_none`: `--auto_layer_k 0 --auto_layer_iters 0` (the README's setting:
  no adaptive layer selection, phase `None` decides);
- `nada_step/auto_layer_k1`: the option defaults `--auto_layer_k 1 --auto_layer_iters 1
  --auto_layer_batch 8` (`determine_opt_layers` inside every training forward).

Timed: `train.py`'s loop body, iteration i > 0: `net.train()`, `mixing_noise`, `net(sample_z)`
(`ZSSGAN.forward`: layer selection when on, the frozen synthesis under `no_grad`, the trainable
one, every `CLIPLoss`), `net.zero_grad()`, `loss.backward()`, `g_optim.step()`, and the loss
read back (`tqdm.write(f"Clip loss: {loss}")`). The official `forward` draws fresh noise maps
for both generators (`randomize_noise=True`); `determine_opt_layers` unfreezes the whole
trainable generator first, so its backward also computes every synthesis weight's gradient
(dropped by `zero_grad`), and its `global_clip_loss` encodes the target text anew. Not timed: building the models, the first steps
(the warm-up; step 0 also computes the 79-template text direction, which `CLIPLoss` does
lazily), and the `output_interval` sample grids.

    python scripts/bench_nada_torch.py /path/to/StyleGAN-nada /path/to/StyleCLIP \
        /path/to/stylegan2-pytorch

Loaded as `gen_nada_fixtures.py` loads it (nothing from the checkouts is copied or edited):
the `op` package is `official_cpu`'s pure-torch ops; `clip.load` returns a randomly initialised
`clip.model.CLIP` with ViT-B/32's hyperparameters (also for the "RN50" every `CLIPLoss` loads
and never uses in these losses); the `ZSSGAN` object is made with `__new__` and set up as its
`__init__` does (that hard-codes CUDA); `Tensor.cpu()` copies, as it does from CUDA, so
`determine_opt_layers` scores the moved W codes against a copy of the start ones.
"""

import os
import sys
import tempfile
import types

import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402

SIZE, BATCH, SEL_B = 256, 2, 8


def vit_b_32(CLIP):
    """`clip.model.CLIP` as `build_model` makes ViT-B/32, random weights (its own init)."""
    return CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=512,
                transformer_heads=8, transformer_layers=12).float().eval()


def main():
    nada_root, styleclip_root, rosi_root = (os.path.abspath(p) for p in sys.argv[1:4])
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)
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
    from ZSSGAN.utils.training_utils import mixing_noise

    torch.manual_seed(0)
    model = vit_b_32(CLIP)
    clip.load = lambda name, device=None, jit=False: (model, clip.clip._transform(224))
    ckpt = os.path.join(tempfile.mkdtemp(), "g.pt")
    torch.save({"g_ema": sg2_model.Generator(SIZE, 512, 8, channel_multiplier=2).state_dict()},
               ckpt)
    # determine_opt_layers copies its start codes with `torch.Tensor(w.cpu().detach().numpy())`:
    # a copy on CUDA, an alias on CPU (the SGD step would move the start codes too).
    torch.Tensor.cpu = lambda self, *a, **k: self.clone()

    def make_net(k, iters):  # ZSSGAN.__init__ on CPU, the train.py defaults except as given
        net = zmod.ZSSGAN.__new__(zmod.ZSSGAN)
        torch.nn.Module.__init__(net)
        net.args = types.SimpleNamespace(sg3=False, sgxl=False, auto_layer_batch=SEL_B,
                                         phase=None, target_img_list=None)
        net.device = "cpu"
        net.generator_frozen = zmod.SG2Generator(ckpt, img_size=SIZE, device="cpu")
        net.generator_trainable = zmod.SG2Generator(ckpt, img_size=SIZE, device="cpu")
        net.generator_frozen.freeze_layers()
        net.generator_frozen.eval()
        net.generator_trainable.freeze_layers()
        net.generator_trainable.unfreeze_layers(net.generator_trainable.get_training_layers(None))
        net.generator_trainable.train()
        net.clip_loss_models = {"ViT-B/32": cl.CLIPLoss("cpu", lambda_direction=1.0,
                                                        clip_model="ViT-B/32")}
        net.clip_model_weights = {"ViT-B/32": 1.0}
        net.mse_loss = torch.nn.MSELoss()
        net.source_class, net.target_class = "photo", "sketch"
        net.auto_layer_k, net.auto_layer_iters = k, iters
        return net

    for name, k, iters in [("phase_none", 0, 0), ("auto_layer_k1", 1, 1)]:
        net = make_net(k, iters)
        ratio = 4 / (4 + 1)  # g_reg_every 4
        g_optim = torch.optim.Adam(net.generator_trainable.parameters(), lr=0.002 * ratio,
                                   betas=(0 ** ratio, 0.99 ** ratio))
        torch.manual_seed(2)

        def step():  # train.py's loop body, less the output_interval / save_interval blocks
            net.train()
            sample_z = mixing_noise(BATCH, 512, 0.0, "cpu")
            [_src, _dst], loss = net(sample_z)
            net.zero_grad()
            loss.backward()
            g_optim.step()
            return f"Clip loss: {loss}"

        ms, n = timeit(step, min_time=5.0, warmup=2 if k == 0 else 1)
        print(f"nada_step/{name}  {ms:.1f} ms  ({n} runs)", flush=True)
    os.remove(ckpt)


if __name__ == "__main__":
    main()
