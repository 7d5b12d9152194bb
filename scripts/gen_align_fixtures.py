"""Regenerate tests/fixtures/align/: e4e's official FFHQ alignment
(`utils/alignment.py::align_face` of omertov/encoder4editing) on synthetic photos, on CPU.

    python scripts/gen_align_fixtures.py /path/to/omertov/encoder4editing

The official function takes a file path and a dlib predictor, calls `get_landmark` (dlib's
detector + 68-point predictor) and returns a 256x256 PIL image. Here:
- `dlib` is a stub module (the function never touches it once `get_landmark` is replaced);
- `get_landmark` is monkeypatched to return each case's 68 landmarks (floats on a 1/256 grid,
  or integers as dlib gives them), so no detector runs;
- `PIL.Image.ANTIALIAS = PIL.Image.LANCZOS`: the name was removed in Pillow 10 and the
  official shrink (and final resize) branches crash without it; it always meant LANCZOS;
- the images are made by `synth` below, an integer formula the Rust test evaluates too, and
  written to a temporary PNG for the function to open;
- two cases run the official source with its local constants `output_size`,
  `transform_size`, `enable_padding` rebound (the text of the loaded function, edited in
  memory; nothing is written): a final Lanczos resize (S=128 < T=512), and padding off.

The function's own intermediate values are read with `sys.settrace` (no formula is
re-derived here): the quad (`c`, `x`, `y`, `quad`, `qsize`) just before the image is opened,
and `shrink`, `border`, `crop`, `pad`, the image size and the final quad just before the
transform. Written: `cases.json` (inputs, those values, the quad also as IEEE-754 bit patterns
since JSON readers may round the last bit, Pillow/numpy/scipy versions) and one PNG per case
with the official output. Nothing from the checkout is copied.
"""

import argparse
import importlib.util
import json
import math
import os
import struct
import sys
import tempfile
import types
import zlib

import numpy as np
import PIL
import PIL.Image
import scipy

def bits(v):
    """A float (or nested lists of floats) as the u64 of its IEEE-754 bits, exact in JSON."""
    if isinstance(v, list):
        return [bits(x) for x in v]
    return struct.unpack("<Q", struct.pack("<d", v))[0]


OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "align")


def synth(w, h, seed):
    """The test photo: integer arithmetic only (the Rust test evaluates the same formula).

    Channels: a horizontal ramp, a vertical ramp, and rings in (x² + 2y²); then a few discs
    (eyes, mouth, a blob) at fixed fractions of the size."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    r = (x * 255) // (w - 1)
    g = (y * 255) // (h - 1)
    b = ((x * x + 2 * y * y) // (97 + 13 * seed) + 40 * seed) % 256
    img = np.stack([r, g, b], axis=-1)
    for fx, fy, fr, colour in DISCS:
        cx, cy, rad = w * fx // 100, h * fy // 100, min(w, h) * fr // 100
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad
        img[inside] = colour
    return img.astype(np.uint8)


# (centre x %, centre y %, radius % of the short side, RGB)
DISCS = [
    (40, 45, 6, (20, 30, 200)),
    (60, 45, 6, (20, 200, 30)),
    (50, 65, 9, (220, 40, 60)),
    (15, 80, 12, (250, 250, 250)),
]


def template():
    """A plausible iBUG-68 face in unit coordinates: eye centres (∓0.2, 0), mouth at y=0.45."""
    pts = []
    for i in range(17):  # jaw 0-16
        t = math.pi * i / 16
        pts.append((-0.75 * math.cos(t), 0.05 + 0.8 * math.sin(t)))
    for i in range(5):  # brows 17-21, 22-26
        pts.append((-0.45 + 0.08 * i, -0.25 - 0.03 * math.sin(math.pi * i / 4)))
    for i in range(5):
        pts.append((0.13 + 0.08 * i, -0.25 - 0.03 * math.sin(math.pi * i / 4)))
    for i in range(4):  # nose bridge 27-30
        pts.append((0.0, -0.12 + 0.09 * i))
    for i in range(5):  # nostrils 31-35
        pts.append((-0.1 + 0.05 * i, 0.27))
    for cx, angles in [(-0.2, [180, 120, 60, 0, 300, 240]), (0.2, [180, 120, 60, 0, 300, 240])]:
        for a in angles:  # eyes 36-41, 42-47: corner, top, top, corner, bottom, bottom
            t = math.radians(a)
            pts.append((cx + 0.09 * math.cos(t), -0.035 * math.sin(t)))
    for k in range(12):  # outer mouth 48-59 from the left corner over the top
        t = math.pi - 2 * math.pi * k / 12
        pts.append((0.2 * math.cos(t), 0.45 - 0.08 * math.sin(t)))
    for k in range(8):  # inner mouth 60-67
        t = math.pi - 2 * math.pi * k / 8
        pts.append((0.13 * math.cos(t), 0.45 - 0.03 * math.sin(t)))
    assert len(pts) == 68
    return np.array(pts)


def landmarks(q, angle_deg, cx, cy, seed, integer=False):
    """The template scaled so the official quad side is about `q`, turned, moved, jittered
    deterministically, on a 1/256 grid (exact in JSON) or rounded to integers."""
    t = template()
    i = np.arange(68)
    t = t + 0.012 * np.stack([np.sin(1.7 * i + seed), np.cos(2.3 * i + seed)], axis=-1)
    scale = q / 1.62
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    p = (t @ rot.T) * scale + [cx, cy]
    if integer:
        return np.rint(p)
    return np.round(p * 256) / 256


def load_alignment(e4e_dir, s=None, t=None, enable_padding=None):
    """`utils/alignment.py`, with `dlib` stubbed; optionally its local constants rebound in
    the source text before it is compiled. The text is kept as `__source_lines__`."""
    sys.modules.setdefault("dlib", types.ModuleType("dlib"))
    path = os.path.join(e4e_dir, "utils", "alignment.py")
    src = open(path).read()
    if s is not None:
        for old, new in [
            ("output_size = 256", f"output_size = {s}"),
            ("transform_size = 256", f"transform_size = {t}"),
            ("enable_padding = True", f"enable_padding = {enable_padding}"),
        ]:
            assert src.count(old) == 1, old
            src = src.replace(old, new)
    mod = types.ModuleType(f"e4e_alignment_{s}_{t}_{enable_padding}")
    mod.__file__ = path
    mod.__source_lines__ = src.splitlines()
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def run_official(mod, image_path, lm):
    """`align_face` with `get_landmark` patched. Returns the output and two snapshots of the
    function's locals: the quad just before the image is opened, and the stage values just
    before the transform (plus the image size after the shrink, read at the crop)."""
    mod.get_landmark = lambda filepath, predictor: np.array(lm)
    lines = mod.__source_lines__
    snaps = {}

    def local(frame, event, arg):
        if event != "line":
            return local
        line, f = lines[frame.f_lineno - 1], frame.f_locals
        if "PIL.Image.open" in line:
            snaps["quad"] = {
                "center": [float(v) for v in f["c"]],
                "x": [float(v) for v in f["x"]],
                "y": [float(v) for v in f["y"]],
                "corners": [[float(v) for v in p] for p in f["quad"]],
                "size": float(f["qsize"]),
            }
        elif "border = max(" in line:
            snaps["shrunk_size"] = list(f["img"].size)
        elif "img.transform(" in line:
            snaps["stages"] = {
                "shrink": int(f["shrink"]),
                "shrunk_size": snaps["shrunk_size"],
                "border": int(f["border"]),
                "crop": [int(v) for v in f["crop"]],
                "pad": [int(v) for v in f["pad"]],
                "image_size": list(f["img"].size),
                "corners": [[float(v) for v in p] for p in f["quad"]],
                "size": float(f["qsize"]),
            }
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is mod.align_face.__code__ else None

    sys.settrace(tracer)
    try:
        out = mod.align_face(image_path, None)
    finally:
        sys.settrace(None)
    return np.asarray(out), snaps["quad"], snaps["stages"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("e4e_dir", help="a checkout of omertov/encoder4editing")
    args = ap.parse_args()
    PIL.Image.ANTIALIAS = PIL.Image.LANCZOS
    os.makedirs(OUT, exist_ok=True)

    official = load_alignment(args.e4e_dir)
    # name, image (w, h, seed), landmarks (q, angle, cx, cy, seed, integer), sizes, padding,
    # and what the case is meant to exercise (checked against the official's own values).
    cases = [
        ("inside", (200, 200, 0), (180, 3, 100, 96, 0, False), None,
         dict(shrink=False, crop=False, pad=False)),
        ("crop", (300, 300, 1), (120, 10, 150, 140, 1, False), None,
         dict(shrink=False, crop=True, pad=False)),
        ("pad", (200, 160, 2), (150, -15, 140, 60, 2, False), None,
         dict(shrink=False, crop=True, pad=True)),
        ("shrink", (1100, 1000, 3), (1050, 5, 560, 480, 3, False), None,
         dict(shrink=True, crop=None, pad=True)),
        ("resize", (240, 200, 4), (200, -4, 118, 104, 4, True), (128, 512, True),
         dict(shrink=False, crop=None, pad=None)),
        ("nopad", (200, 160, 2), (150, -15, 140, 60, 2, False), (256, 256, False),
         dict(shrink=False, crop=True, pad=False)),
    ]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (w, h, seed), lmargs, sizes, expect in cases:
            img = synth(w, h, seed)
            path = os.path.join(tmp, f"{name}.png")
            PIL.Image.fromarray(img, "RGB").save(path)
            lm = landmarks(*lmargs)
            mod = official if sizes is None else load_alignment(args.e4e_dir, *sizes)
            out, quad, stages = run_official(mod, path, lm)
            s, t, pad_on = sizes or (256, 256, True)
            assert out.shape == (s, s, 3), out.shape
            did = dict(
                shrink=stages["shrink"] > 1,
                crop=stages["crop"][2] - stages["crop"][0] < stages["shrunk_size"][0]
                or stages["crop"][3] - stages["crop"][1] < stages["shrunk_size"][1],
                pad=pad_on and max(stages["pad"]) > stages["border"] - 4,
            )
            for k, v in expect.items():
                if v is not None:
                    assert did[k] == v, (name, k, did, stages)
            PIL.Image.fromarray(out, "RGB").save(os.path.join(OUT, f"{name}.png"), optimize=True)
            records.append(dict(
                name=name,
                image=dict(width=w, height=h, seed=seed, crc32=zlib.crc32(img.tobytes())),
                landmarks=lm.tolist(),
                output_size=s,
                transform_size=t,
                enable_padding=pad_on,
                quad=quad,
                quad_bits={k: bits(v) for k, v in quad.items()},
                stages=stages,
                png=f"{name}.png",
            ))
            print(f"{name}: quad side {quad['size']:.2f}, shrink {stages['shrink']}, "
                  f"crop {stages['crop']}, pad {stages['pad']}, warped from {stages['image_size']}")
    meta = dict(
        source="omertov/encoder4editing utils/alignment.py::align_face",
        versions=dict(pillow=PIL.__version__, numpy=np.__version__, scipy=scipy.__version__),
        discs=DISCS,
        cases=records,
    )
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
