//! Method 3 (global directions) against the official `global_torch` code run on CPU on the tiny
//! generator and CLIP of tests/fixtures/optimization/ (fixtures: `scripts/gen_global_fixtures.py`):
//! StyleSpace statistics (`GetCodeMS`, both W+ variants), channel relevance fs3 (the
//! `SingleChannel.py` loop, resumed from a checkpoint half-way), Δt (`GetDt` with the real
//! templates), Δs (`GetBoundary` + `SplitS`), α sweeps (`MSCode`) and the automatic β.

mod common;

use common::tiny_clip_config;

use std::ops::ControlFlow;

use burn::prelude::*;
use common::{fixture, load, scratch};
use styleclip::clip::{Clip, Tokenizer};
use styleclip::edit::global_direction::{
    GlobalDirection, IMAGENET_TEMPLATES, Relevance, RelevanceConfig, StatsAccumulator, StatsConfig,
    StyleStats, TruncationVariant,
};
use styleclip::stylegan2::{Generator, StyleCode};
use styleclip::weights::TensorFile;

const PAIRS: [(&str, &str); 2] = [("face", "smiling face"), ("female face", "male face")];
const BETAS: [f32; 3] = [0.1, 0.17, 0.25];
const ALPHAS: [f32; 3] = [-3.0, 1.5, 4.1];

fn generator(device: &Device) -> Generator {
    Generator::load(fixture("optimization/generator.pt"), device).unwrap()
}

fn tiny_clip(device: &Device) -> Clip {
    Clip::load_with_config(
        fixture("optimization/clip.safetensors"),
        tiny_clip_config(),
        device,
    )
    .unwrap()
}

fn reference() -> TensorFile {
    TensorFile::open(fixture("global/ref.safetensors")).unwrap()
}

fn vec(r: &TensorFile, key: &str) -> Vec<f32> {
    r.read_f32(key).unwrap_or_else(|e| panic!("{key}: {e}")).0
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn flat(code: &StyleCode, j: usize) -> Vec<f32> {
    code.layers()[j]
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
}

/// The official recipe's W+ for the fixture's z (ψ 0.7, cutoff 4), and its statistics.
fn stats_for(
    g: &Generator,
    r: &TensorFile,
    variant: TruncationVariant,
    device: &Device,
) -> (Tensor<3>, StyleStats) {
    let z: Tensor<2> = load(r, "z", device);
    let avg: Tensor<1> = load(r, "w_avg", device);
    let n = z.dims()[0];
    let wp = StatsConfig::new(n, 0)
        .with_psi(0.7)
        .with_cutoff(4)
        .with_variant(variant)
        .w_plus(g, z, &avg);
    let mut acc = StatsAccumulator::new(g.style_layers());
    // Two batches: the streamed moments must not depend on the split.
    acc.add(&g.styles(wp.clone().narrow(0, 0, 5))).unwrap();
    acc.add(&g.styles(wp.clone().narrow(0, 5, n - 5))).unwrap();
    (wp, acc.finish().unwrap())
}

#[test]
fn statistics_match_get_code_ms_in_both_variants() {
    let device = Device::flex();
    let g = generator(&device);
    let r = reference();
    for (variant, name) in [
        (TruncationVariant::Torch, "torch"),
        (TruncationVariant::Tf, "tf"),
    ] {
        let (wp, stats) = stats_for(&g, &r, variant, &device);
        let first = wp
            .narrow(0, 0, 1)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let e = max_abs_diff(&first, &vec(&r, &format!("wp_{name}_first")));
        assert!(e < 1e-5, "{name}: W+ row differs by {e}");
        for j in 0..g.style_layers().len() {
            let m = vec(&r, &format!("{name}_mean.{j}"));
            let s = vec(&r, &format!("{name}_std.{j}"));
            let scale = m.iter().fold(1f32, |a, v| a.max(v.abs()));
            let em = max_abs_diff(stats.mean(j), &m) / scale;
            let es = max_abs_diff(stats.std(j), &s) / scale;
            assert!(
                em < 1e-5 && es < 1e-5,
                "{name} layer {j}: mean {em}, std {es}"
            );
        }
    }
}

#[test]
fn relevance_matches_single_channel_after_a_resume() {
    let device = Device::flex();
    let g = generator(&device);
    let clip = tiny_clip(&device);
    let r = reference();
    let (wp, stats) = stats_for(&g, &r, TruncationVariant::Torch, &device);
    let images = 3;
    let base = g.styles(wp.narrow(0, 0, images));
    let config = RelevanceConfig::new(images)
        .with_batch_size(7)
        .with_checkpoint_every(9);
    assert_eq!(config.cost(&g).channels, 84);
    assert_eq!(config.cost(&g).generator_forwards, 84 * images * 2);
    let ckpt = scratch("fs3").join("fs3.ckpt.safetensors");
    let _ = std::fs::remove_file(&ckpt);

    // Stop after 30 channels, then resume from the checkpoint.
    let part = config
        .compute_for_styles(&g, &clip, &stats, &base, Some(&ckpt), |p| {
            if p.done >= 30 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(part.rows(), 30);
    assert!(!part.is_complete());
    let mut resumed = None;
    let fs3 = config
        .compute_for_styles(&g, &clip, &stats, &base, Some(&ckpt), |p| {
            resumed.get_or_insert(p.resumed);
            assert!(p.done <= p.total && p.total == 84);
        })
        .unwrap();
    assert_eq!(resumed, Some(30));
    assert!(fs3.is_complete());
    assert_eq!((fs3.rows(), fs3.dim()), (84, 32));

    let official = Relevance::load_npy(fixture("global/fs3.npy")).unwrap();
    let e = max_abs_diff(fs3.values(), official.values());
    // Rows are unit vectors; a pixel that lands on the other side of a uint8 step moves
    // features by ~1e-4.
    assert!(e < 2e-3, "fs3 differs from the official by {e}");
    let mean_err = fs3
        .values()
        .iter()
        .zip(official.values())
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / fs3.values().len() as f32;
    assert!(mean_err < 2e-4, "fs3 mean abs error {mean_err}");
    eprintln!("fs3: max abs error {e:e}, mean {mean_err:e}");

    // The finished checkpoint is a relevance file; a run with other settings refuses it.
    let reloaded = Relevance::load(&ckpt).unwrap();
    assert_eq!(reloaded.values(), fs3.values());
    let other = RelevanceConfig::new(images).with_alpha(3.0);
    let err = other
        .compute_for_styles(&g, &clip, &stats, &base, Some(&ckpt), |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("other inputs"), "{err}");
}

#[test]
fn text_direction_matches_get_dt() {
    assert_eq!(IMAGENET_TEMPLATES.len(), 79);
    assert!(!IMAGENET_TEMPLATES.contains(&"a photo of many {}."));
    let device = Device::flex();
    let clip = tiny_clip(&device);
    let r = reference();
    assert_eq!(vec(&r, "templates_count"), [79.0]);
    let tok = Tokenizer::new();
    for (p, (neutral, target)) in PAIRS.iter().enumerate() {
        let dir = GlobalDirection::from_text(&clip, &tok, neutral, target).unwrap();
        let e = max_abs_diff(dir.vector(), &vec(&r, &format!("dt.{p}")));
        assert!(e < 1e-5, "Δt {neutral} → {target}: {e}");
        eprintln!("Δt {neutral} → {target}: max abs error {e:e}");
    }
}

#[test]
fn boundaries_sweeps_and_auto_beta_match_the_official_code() {
    let device = Device::flex();
    let g = generator(&device);
    let r = reference();
    let n = g.style_layers().len();
    let stats = StyleStats::from_parts(
        g.style_layers(),
        (0..n)
            .map(|j| vec(&r, &format!("torch_mean.{j}")))
            .collect(),
        (0..n).map(|j| vec(&r, &format!("torch_std.{j}"))).collect(),
        32,
    )
    .unwrap();
    let base = g
        .style_code(
            (0..n)
                .map(|j| load::<2>(&r, &format!("edit_base.{j}"), &device))
                .collect(),
        )
        .unwrap();
    let real = Relevance::load_npy(fixture("global/fs3.npy")).unwrap();
    let (rv, shape) = r.read_f32("fs3_random").unwrap();
    let random = Relevance::from_values(rv, shape[0], shape[1]).unwrap();
    for p in 0..PAIRS.len() {
        let dir = GlobalDirection::from_vector(vec(&r, &format!("dt.{p}")), &device).unwrap();
        for (fname, fs3) in [("real", &real), ("random", &random)] {
            for (b, beta) in BETAS.iter().enumerate() {
                let key = format!("{fname}.{p}.{b}");
                let want = vec(&r, &format!("num_c.{key}"))[0] as usize;
                let d = dir.delta(fs3, &stats, *beta as f64).unwrap();
                assert_eq!(d.channels, want, "{key}: channels moved");
                for j in 0..n {
                    let want = vec(&r, &format!("boundary.{key}.{j}"));
                    let got = flat(&d.delta, j);
                    // Identical channel sets: zero exactly where the official is zero.
                    for (c, (x, y)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(*x == 0.0, *y == 0.0, "{key} layer {j} channel {c}");
                    }
                    let e = max_abs_diff(&got, &want);
                    assert!(e <= 1e-5, "{key} layer {j}: Δs differs by {e}");
                }
                let sweep = d.delta.apply_sweep(&base, &ALPHAS).unwrap();
                assert_eq!(sweep.batch_size(), 2 * ALPHAS.len());
                for j in 0..n {
                    let e = max_abs_diff(&flat(&sweep, j), &vec(&r, &format!("codes.{key}.{j}")));
                    assert!(e <= 1e-5, "{key} layer {j}: edited codes differ by {e}");
                }
                // apply (batch-1 broadcast) = the sweep's middle α.
                let one = d.delta.apply(&base, ALPHAS[1]);
                for j in 0..n {
                    let s = flat(&sweep, j);
                    let c = s.len() / sweep.batch_size();
                    let mid: Vec<f32> = (0..2)
                        .flat_map(|i| s[(i * 3 + 1) * c..(i * 3 + 2) * c].to_vec())
                        .collect();
                    assert_eq!(flat(&one, j), mid);
                }
            }
            for k in [5usize, 20] {
                let want = r.read_f32(&format!("auto_beta.{fname}.{p}.{k}")).unwrap().0[0] as f64;
                let got = dir.auto_beta(fs3, k).unwrap();
                assert!((got.beta - want).abs() < 1e-6, "auto β {fname} {p} K={k}");
            }
        }
    }
}
