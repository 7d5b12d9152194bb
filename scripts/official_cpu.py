"""Import the official StyleGAN2 generators on CPU, without compiling anything.

The official `op` packages either compile CUDA kernels at import (rosinality) or call `.cuda()`
(StyleCLIP's `fused_leaky_relu`). This shim reuses their own pure-torch code paths:
- `upfirdn2d` is StyleCLIP's `upfirdn2d_native` wrapper, loaded from the checkout;
- `fused_leaky_relu` is the official fallback formula without the `.cuda()` call:
  `leaky_relu(x + bias, 0.2) * sqrt(2)`, bias on the last axis for 3-D input, on axis 1 otherwise;
- `conv2d_gradfix` is rosinality's own module (it falls back to `F.conv2d` off CUDA).

Nothing from the checkouts is copied; they are imported from the paths given.
"""

import importlib.util
import sys
import types

from torch.nn import functional as F


def load_module(name, path):
    """Import a module from a file path under the given name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fused_leaky_relu(input, bias, negative_slope=0.2, scale=2 ** 0.5):
    rest_dim = [1] * (input.ndim - bias.ndim - 1)
    if input.ndim == 3:
        b = bias.view(1, *rest_dim, bias.shape[0])
    else:
        b = bias.view(1, bias.shape[0], *rest_dim)
    return F.leaky_relu(input + b, negative_slope=negative_slope) * scale


def _op_package(name, styleclip_dir, extra=None):
    up = load_module(f"{name}_upfirdn2d", f"{styleclip_dir}/models/stylegan2/op/upfirdn2d.py")
    act = load_module(f"{name}_fused_act", f"{styleclip_dir}/models/stylegan2/op/fused_act.py")
    act.fused_leaky_relu = fused_leaky_relu  # FusedLeakyReLU.forward looks this global up
    op = types.ModuleType(name)
    op.upfirdn2d = up.upfirdn2d
    op.fused_leaky_relu = fused_leaky_relu
    op.FusedLeakyReLU = act.FusedLeakyReLU
    for k, v in (extra or {}).items():
        setattr(op, k, v)
    sys.modules[name] = op
    return op


def styleclip_model(styleclip_dir):
    """`models/stylegan2/model.py` of orpatashnik/StyleCLIP."""
    for pkg in ["models", "models.stylegan2"]:
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    _op_package("models.stylegan2.op", styleclip_dir)
    return load_module("models.stylegan2.model", f"{styleclip_dir}/models/stylegan2/model.py")


def rosinality_model(rosinality_dir, styleclip_dir):
    """`model.py` of rosinality/stylegan2-pytorch."""
    gradfix = load_module("op.conv2d_gradfix", f"{rosinality_dir}/op/conv2d_gradfix.py")
    _op_package("op", styleclip_dir, {"conv2d_gradfix": gradfix})
    return load_module("rosinality_model", f"{rosinality_dir}/model.py")


def make_generator(model, size, style_dim, n_mlp, channels):
    """The official `Generator(size, style_dim, n_mlp)` with its own channel table replaced by
    `channels` (4 px first): the constructor assigns its fixed table, a property keeps ours."""
    table = {4 << j: c for j, c in enumerate(channels)}

    class G(model.Generator):
        @property
        def channels(self):
            return table

        @channels.setter
        def channels(self, _value):
            pass

    return G(size, style_dim, n_mlp)


def perturb_generator(g, gen, bias_scale=0.2, weights=True, noise_buffers=True):
    """Move every generator parameter off its initial value, so no bug hides behind zeros or
    ones: noise strengths, modulation biases (around 1), other biases (mapping biases / 100, as
    they are multiplied by lr_mul 0.01), and, when `weights`, a small relative jitter of weights;
    when `noise_buffers`, the constant noise buffers are redrawn from `gen` too."""
    import torch

    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise.weight"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("modulation.bias"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                divisor = 100.0 if name.startswith("style.") else 1.0
                p.copy_(bias_scale * torch.randn(p.shape, generator=gen) / divisor)
            elif weights:
                p.add_(0.1 * p.abs().mean() * torch.randn(p.shape, generator=gen))
        if noise_buffers:
            for name, b in g.named_buffers():
                if name.startswith("noises."):
                    b.copy_(torch.randn(b.shape, generator=gen))


def no_cuda():
    """Keep the official code on the CPU: `.cuda()` is the identity, and so is
    `.to("cuda:0")` (the mapper coach's device), for tensors and modules."""
    import torch

    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    for cls in (torch.Tensor, torch.nn.Module):
        cls.to = (lambda orig: lambda self, *a, **k:
                  self if a and a[0] == "cuda:0" else orig(self, *a, **k))(cls.to)


def stub(name, **attrs):
    """Register an empty module `name` with `attrs` (for imports a code path never uses)."""
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m


def global_torch(styleclip_dir):
    """StyleCLIP's `global_torch/` modules `manipulate`, `SingleChannel` and `StyleCLIP`, on CPU:
    `.cuda()` is the identity and the GUI/plotting modules they import (`imageio`,
    `visualizer`, `matplotlib`) are stubs. Also loads `models/stylegan2/model.py`, returned as
    `.model`."""
    no_cuda()
    stub("imageio")
    stub("visualizer", HtmlPageVisualizer=None)
    stub("matplotlib", pyplot=stub("matplotlib.pyplot"))
    model = styleclip_model(styleclip_dir)
    sys.path.insert(0, f"{styleclip_dir}/global_torch")
    import manipulate
    import SingleChannel
    import StyleCLIP

    return types.SimpleNamespace(model=model, manipulate=manipulate,
                                 SingleChannel=SingleChannel, StyleCLIP=StyleCLIP)
