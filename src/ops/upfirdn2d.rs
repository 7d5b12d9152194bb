//! `upfirdn2d`: upsample by zero insertion, pad (or crop, for negative pads), convolve with a 2-D
//! FIR kernel, downsample by striding. The resampling primitive of StyleGAN2.
//!
//! [`upfirdn2d`] runs on any backend as tensor ops (reshape/concat for the zero insertion, one
//! single-channel `conv2d` over `N·C` images, as the official `upfirdn2d_native` does).
//! [`upfirdn2d_ref`] is a direct loop over host memory that states the definition; tests hold the
//! fast path to it.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// `k ⊗ k / Σ(k ⊗ k)` for a 1-D kernel, rosinality's `make_kernel`, times `gain`.
///
/// Returns the row-major `[n, n]` values.
pub fn make_kernel(k: &[f32], gain: f32) -> Vec<f32> {
    let n = k.len();
    let mut out = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = k[i] * k[j];
        }
    }
    let sum: f32 = out.iter().sum();
    out.iter_mut().for_each(|v| *v = *v / sum * gain);
    out
}

/// Output extent of one axis.
fn out_len(len: usize, k: usize, up: usize, down: usize, pad: (isize, isize)) -> usize {
    let full = (len * up) as isize + pad.0 + pad.1 - k as isize;
    (full.div_euclid(down as isize) + 1).max(0) as usize
}

/// Upsample, pad, FIR-filter, downsample (same `pad` on both axes, as rosinality's `upfirdn2d`).
///
/// The kernel is applied as a true convolution (flipped), as in the official op.
///
/// # Shapes
/// - `x`: `[N, C, H, W]`
/// - `kernel`: `[kh, kw]`
/// - output: `[N, C, (H·up + pad.0 + pad.1 − kh) / down + 1, (same for W)]`
pub fn upfirdn2d(
    x: Tensor<4>,
    kernel: Tensor<2>,
    up: usize,
    down: usize,
    pad: (isize, isize),
) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [kh, kw] = kernel.dims();
    let device = x.device();

    // Zero insertion: [N·C, 1, H, 1, W, 1] → concat zeros → [N·C, 1, H·up, W·up].
    let mut x = x.reshape([n * c, 1, h, w]);
    if up > 1 {
        let x6: Tensor<6> = x.reshape([n * c, 1, h, 1, w, 1]);
        let zw = Tensor::<6>::zeros([n * c, 1, h, 1, w, up - 1], &device);
        let x6 = Tensor::cat(vec![x6, zw], 5);
        let zh = Tensor::<6>::zeros([n * c, 1, h, up - 1, w, up], &device);
        let x6 = Tensor::cat(vec![x6, zh], 3);
        x = x6.reshape([n * c, 1, h * up, w * up]);
    }

    // Negative pads crop.
    let (p0, p1) = pad;
    if p0 < 0 || p1 < 0 {
        let [_, _, hh, ww] = x.dims();
        let (c0, c1) = ((-p0).max(0) as usize, (-p1).max(0) as usize);
        x = x.slice([0..n * c, 0..1, c0..hh - c1, c0..ww - c1]);
    }
    let (q0, q1) = (p0.max(0) as usize, p1.max(0) as usize);

    let flipped = kernel.flip([0, 1]).reshape([1, 1, kh, kw]);
    let options = ConvOptions::new_with_padding([down, down], [(q0, q1), (q0, q1)], [1, 1], 1);
    let out = conv2d(x, flipped, None, options);
    let [_, _, oh, ow] = out.dims();
    debug_assert_eq!(oh, out_len(h, kh, up, down, pad));
    debug_assert_eq!(ow, out_len(w, kw, up, down, pad));
    out.reshape([n, c, oh, ow])
}

/// Reference `upfirdn2d` on host memory: the definition, written as loops.
///
/// `x` is row-major `[N, C, H, W]` (`shape`), `kernel` row-major `[kh, kw]`.
/// Returns the output values and shape.
pub fn upfirdn2d_ref(
    x: &[f32],
    shape: [usize; 4],
    kernel: &[f32],
    kshape: [usize; 2],
    up: usize,
    down: usize,
    pad: (isize, isize),
) -> (Vec<f32>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let [kh, kw] = kshape;
    let (oh, ow) = (out_len(h, kh, up, down, pad), out_len(w, kw, up, down, pad));
    // Value of the upsampled, padded plane at (y, x), zero outside.
    let sample = |plane: &[f32], y: isize, xx: isize| -> f32 {
        let (uy, ux) = (y - pad.0, xx - pad.0);
        if uy < 0 || ux < 0 || uy >= (h * up) as isize || ux >= (w * up) as isize {
            return 0.0;
        }
        let (uy, ux) = (uy as usize, ux as usize);
        if uy % up != 0 || ux % up != 0 {
            return 0.0;
        }
        plane[(uy / up) * w + ux / up]
    };
    let mut out = vec![0f32; n * c * oh * ow];
    for p in 0..n * c {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0f32;
                for i in 0..kh {
                    for j in 0..kw {
                        let kv = kernel[(kh - 1 - i) * kw + (kw - 1 - j)];
                        acc +=
                            kv * sample(plane, (oy * down + i) as isize, (ox * down + j) as isize);
                    }
                }
                out[(p * oh + oy) * ow + ox] = acc;
            }
        }
    }
    (out, [n, c, oh, ow])
}
