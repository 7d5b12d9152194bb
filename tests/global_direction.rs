//! Global directions beyond the official parity (tests/global_direction_parity.rs): the
//! end-to-end calls of the public API, statistics files, fs3 `.npy` files as NumPy writes them,
//! and the errors for wrong inputs.

mod common;

use burn::prelude::*;
use common::{fixture, scratch};
use styleclip::Error;
use styleclip::clip::{Clip, Tokenizer};
use styleclip::edit::global_direction::{
    ChannelReset, GlobalDirection, Quantize, Relevance, RelevanceConfig, StatsAccumulator,
    StatsConfig, StyleStats,
};
use styleclip::stylegan2::{Generator, NoiseMode};

fn tiny_clip(device: &Device) -> Clip {
    let config = common::tiny_clip_config();
    Clip::load_with_config(fixture("optimization/clip.safetensors"), config, device).unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

#[test]
fn fs3_npy_files_as_numpy_writes_them() {
    let c = Relevance::load_npy(fixture("global/fs3.npy")).unwrap();
    let f = Relevance::load_npy(fixture("global/fs3_fortran_f64.npy")).unwrap();
    assert_eq!((c.rows(), c.dim()), (84, 32));
    assert_eq!((f.rows(), f.dim()), (84, 32));
    let e = c
        .values()
        .iter()
        .zip(f.values())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(e < 1e-7, "Fortran f64 vs C f32: {e}");
    // `load` dispatches on the file kind.
    assert_eq!(
        Relevance::load(fixture("global/fs3.npy")).unwrap().values(),
        c.values()
    );
    // A latent file is 3-D: not an fs3.
    let err = Relevance::load_npy(fixture("latents/c_f32.npy")).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    // Save / load in the crate's own format.
    let path = scratch("fs3-save").join("fs3.safetensors");
    c.save(&path).unwrap();
    assert_eq!(Relevance::load(&path).unwrap().values(), c.values());
    assert!(matches!(
        Relevance::from_values(vec![f32::NAN; 4], 2, 2),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Relevance::from_values(vec![0.0; 5], 2, 2),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn the_public_calls_run_end_to_end() {
    let device = Device::flex();
    let g = Generator::load(fixture("optimization/generator.pt"), &device).unwrap();
    let clip = tiny_clip(&device);

    let mut seen = Vec::new();
    let stats = StyleStats::compute(&g, 10, 5, &device, |p| seen.push(p.done)).unwrap();
    assert_eq!(seen, [10]);
    assert_eq!(stats.count(), 10);
    // Streamed in batches = one pass over the same samples.
    let batched = StatsConfig::new(10, 5)
        .with_batch_size(3)
        .compute(&g, &device, |_| {})
        .unwrap();
    let mut acc = StatsAccumulator::new(g.style_layers());
    acc.add(&stats.sample_styles(&g, 10, &device).unwrap())
        .unwrap();
    let whole = acc.finish().unwrap();
    for j in 0..g.style_layers().len() {
        for (a, b) in [(&batched, &whole), (&stats, &whole)] {
            let e = a
                .mean(j)
                .iter()
                .chain(a.std(j))
                .zip(b.mean(j).iter().chain(b.std(j)))
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(e < 1e-5, "layer {j}: {e}");
        }
    }
    // Save / load keeps the statistics and the sampling recipe.
    let path = scratch("stats").join("stats.safetensors");
    stats.save(&path).unwrap();
    let loaded = StyleStats::load(&path).unwrap();
    assert_eq!(loaded.mean(3), stats.mean(3));
    assert_eq!(loaded.std(10), stats.std(10));
    assert_eq!(
        values(loaded.sample_styles(&g, 2, &device).unwrap().layers()[2].clone()),
        values(stats.sample_styles(&g, 2, &device).unwrap().layers()[2].clone())
    );

    // Relevance on the statistics' own first samples, capped at 8 px (44 channels).
    let config = RelevanceConfig::new(2).with_max_resolution(Some(8));
    assert_eq!(config.cost(&g).channels, 16 + 16 + 12);
    assert_eq!(config.cost(&g).layers, 3);
    let fs3 = config
        .compute(&g, &clip, &loaded, None, |p| {
            assert!(p.done <= p.total);
        })
        .unwrap();
    assert_eq!((fs3.rows(), fs3.dim()), (44, 32));
    for row in fs3.values().chunks(32) {
        let n: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5);
    }

    let dir = GlobalDirection::from_text(&clip, &Tokenizer::new(), "face", "smiling face").unwrap();
    let beta = dir.auto_beta(&fs3, 5).unwrap();
    let d = dir.delta(&fs3, &stats, beta.beta).unwrap();
    assert_eq!(d.channels, beta.channels);
    // ToRGB layers and the layers beyond the cap are not edited.
    for (j, (t, l)) in d.delta.layers().iter().zip(g.style_layers()).enumerate() {
        let v = values(t.clone());
        if l.kind == styleclip::stylegan2::LayerKind::ToRgb || l.resolution > 8 {
            assert!(v.iter().all(|x| *x == 0.0), "layer {j} must be untouched");
        }
    }
    let delta = dir.style_delta(&fs3, &stats, beta.beta).unwrap();
    let styles = g.styles(g.broadcast(g.mapping(g.sample_z(2, 1))));
    let edited = delta.apply(&styles, 4.0);
    let image = g.synthesis_from_styles(&edited, NoiseMode::Const);
    assert_eq!(image.dims(), [2, 3, 32, 32]);
    // A batch-2 delta cannot edit a batch of 4.
    let four = delta.apply_sweep(&styles, &[1.0, 2.0]).unwrap();
    assert_eq!(four.batch_size(), 4);
    assert!(edited.try_apply(&four, 1.0).is_err());
}

#[test]
fn wrong_inputs_are_errors_that_name_the_problem() {
    let device = Device::flex();
    let g = Generator::load(fixture("optimization/generator.pt"), &device).unwrap();
    let small = Generator::load(fixture("stylegan2/g4_min.pt"), &device).unwrap();
    let clip = tiny_clip(&device);
    let tok = Tokenizer::new();
    let stats = StyleStats::compute(&g, 4, 0, &device, |_| {}).unwrap();
    let fs3 = Relevance::load_npy(fixture("global/fs3.npy")).unwrap();

    for (n, t) in [("", "smiling face"), ("face", "  ")] {
        let err = GlobalDirection::from_text(&clip, &tok, n, t).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
    let dir = GlobalDirection::from_text(&clip, &tok, "face", "smiling face").unwrap();
    for beta in [-0.1, 1.5, f64::NAN] {
        let err = dir.style_delta(&fs3, &stats, beta).unwrap_err();
        assert!(err.to_string().contains("β"), "{err}");
    }
    let err = dir.style_delta(&fs3, &stats, 0.99).unwrap_err();
    assert!(err.to_string().contains("selects no channel"), "{err}");
    // fs3 rows that are not whole layers of this generator.
    let rows83 = Relevance::from_values(fs3.values()[..83 * 32].to_vec(), 83, 32).unwrap();
    let err = dir.style_delta(&rows83, &stats, 0.1).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { found, .. } if found == &vec![83]),
        "{err}"
    );
    // Another embedding size.
    let wide = Relevance::from_values(vec![0.1; 84 * 16], 84, 16).unwrap();
    assert!(matches!(
        dir.style_delta(&wide, &stats, 0.1),
        Err(Error::ShapeMismatch { .. })
    ));
    // Statistics of another generator.
    let err = Relevance::compute(&small, &clip, &stats, 1, |_| {}).unwrap_err();
    assert!(err.to_string().contains("another generator"), "{err}");
    assert!(StyleStats::compute(&g, 0, 0, &device, |_| {}).is_err());
    assert!(GlobalDirection::from_vector(vec![0.0; 32], &device).is_err());
    assert!(GlobalDirection::from_vector(vec![f32::NAN; 32], &device).is_err());
    let not_stats = StyleStats::load(fixture("global/ref.safetensors")).unwrap_err();
    assert!(
        matches!(not_stats, Error::NotACheckpoint { .. }),
        "{not_stats}"
    );
}

#[test]
fn relevance_options_change_what_they_should() {
    let device = Device::flex();
    let g = Generator::load(fixture("optimization/generator.pt"), &device).unwrap();
    let clip = tiny_clip(&device);
    let stats = StyleStats::compute(&g, 8, 0, &device, |_| {}).unwrap();
    // The 4 px conv layer only: 16 channels, 1 image.
    let base = RelevanceConfig::new(1).with_max_resolution(Some(4));
    assert_eq!(base.cost(&g).channels, 16);
    let run = |c: &RelevanceConfig| c.compute(&g, &clip, &stats, None, |_| {}).unwrap();
    let official = run(&base);
    let per_channel = run(&base.clone().with_channel_reset(ChannelReset::PerChannel));
    let rounded = run(&base.clone().with_quantize(Quantize::Round));
    let batched = run(&base.clone().with_batch_size(5));
    // Nothing was visited before channel 0: both resets agree there, and only there.
    assert_eq!(official.values()[..32], per_channel.values()[..32]);
    assert_ne!(official.values()[32..], per_channel.values()[32..]);
    assert_ne!(official.values(), rounded.values());
    // Batching mixes channels and images without changing the result.
    let e = official
        .values()
        .iter()
        .zip(batched.values())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(e < 1e-5, "batch size changed fs3 by {e}");
}

/// The FFHQ 1024 layout: 26 style layers, 17 of them convs with 6048 channels; the shipped
/// script's 128 px cap leaves 11 layers and 5376 channels.
#[test]
fn ffhq_sized_relevance_maps_onto_the_layers() {
    use styleclip::stylegan2::{LayerKind, StyleLayer};
    let device = Device::flex();
    let ch = [512, 512, 512, 512, 512, 256, 128, 64, 32];
    let mut layers = vec![
        StyleLayer {
            kind: LayerKind::Conv,
            resolution: 4,
            channels: 512,
            w_index: 0,
        },
        StyleLayer {
            kind: LayerKind::ToRgb,
            resolution: 4,
            channels: 512,
            w_index: 1,
        },
    ];
    for j in 1..ch.len() {
        let res = 4 << j;
        let i = 2 * j - 1;
        layers.push(StyleLayer {
            kind: LayerKind::Conv,
            resolution: res,
            channels: ch[j - 1],
            w_index: i,
        });
        layers.push(StyleLayer {
            kind: LayerKind::Conv,
            resolution: res,
            channels: ch[j],
            w_index: i + 1,
        });
        layers.push(StyleLayer {
            kind: LayerKind::ToRgb,
            resolution: res,
            channels: ch[j],
            w_index: i + 2,
        });
    }
    assert_eq!(layers.len(), 26);
    let n = |kind| {
        layers
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.channels)
            .sum::<usize>()
    };
    assert_eq!((n(LayerKind::Conv), n(LayerKind::ToRgb)), (6048, 3040));
    let stats = StyleStats::from_parts(
        &layers,
        layers.iter().map(|l| vec![0.0; l.channels]).collect(),
        layers.iter().map(|l| vec![2.0; l.channels]).collect(),
        1,
    )
    .unwrap();
    // Rows with a known relevance: row k points along axis k % 512 (sign alternating).
    let fs3 = |rows: usize| {
        let mut v = vec![0f32; rows * 512];
        for k in 0..rows {
            v[k * 512 + k % 512] = if k % 2 == 0 { 1.0 } else { -1.0 };
        }
        Relevance::from_values(v, rows, 512).unwrap()
    };
    let mut dt = vec![0f32; 512];
    dt[7] = 1.0;
    let dir = GlobalDirection::from_vector(dt, &device).unwrap();
    for (rows, edited_layers) in [(6048, 17), (5376, 11)] {
        let d = dir.delta(&fs3(rows), &stats, 0.5).unwrap();
        // Rows ≡ 7 (mod 512) have r = −1 (odd rows): Δs = −1 · σ = −2 there, 0 elsewhere.
        assert_eq!(d.channels, (0..rows).filter(|k| k % 512 == 7).count());
        let mut row = 0;
        let mut conv_seen = 0;
        for (t, l) in d.delta.layers().iter().zip(&layers) {
            let v = values(t.clone());
            if l.kind == LayerKind::ToRgb || conv_seen >= edited_layers {
                assert!(v.iter().all(|x| *x == 0.0));
                continue;
            }
            conv_seen += 1;
            for (c, x) in v.iter().enumerate() {
                let want = if (row + c) % 512 == 7 { -2.0 } else { 0.0 };
                assert_eq!(*x, want, "row {}", row + c);
            }
            row += l.channels;
        }
    }
    let err = dir.delta(&fs3(6000), &stats, 0.5).unwrap_err();
    assert!(err.to_string().contains("6048"), "{err}");
}
