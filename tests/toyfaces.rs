//! The toy-faces world: renderer determinism, the latent map, captions, and the shipped oracle.

use burn::prelude::*;
use styleclip::toyfaces::oracle::Oracle;
use styleclip::toyfaces::{
    Attribute, Attributes, Face, Glasses, HairColor, Hairstyle, Jitter, Mouth, SIZE, Style,
    render_batch, render_face,
};

fn face(seed: u64) -> Face {
    Face {
        attributes: Attributes::sample(seed),
        jitter: Jitter::sample(seed),
    }
}

#[test]
fn renderer_is_deterministic_and_seeds_differ() {
    for style in [Style::Photo, Style::Sketch, Style::Negative] {
        let a = render_face(&face(7), style, SIZE).unwrap();
        let b = render_face(&face(7), style, SIZE).unwrap();
        assert_eq!(a, b, "{style:?}");
        let c = render_face(&face(8), style, SIZE).unwrap();
        assert_ne!(a, c, "{style:?}");
    }
    // A fingerprint of the bytes, so a silent change of the drawing shows up here.
    let img = render_face(&face(0), Style::Photo, SIZE).unwrap();
    let sum: u64 = img
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u64 % 251 + 1) * u64::from(v))
        .sum();
    assert!(sum > 0);
    assert_eq!(
        (img.width, img.height, img.data.len()),
        (SIZE, SIZE, SIZE * SIZE * 3)
    );
}

#[test]
fn each_attribute_changes_the_pixels() {
    let base = Face {
        attributes: Attributes {
            hair_color: HairColor::Brown,
            hairstyle: Hairstyle::Short,
            mouth: Mouth::Neutral,
            glasses: Glasses::None,
            skin: styleclip::toyfaces::Skin::Tan,
            background: styleclip::toyfaces::Background::Blue,
        },
        jitter: Jitter::NONE,
    };
    let img = |f: &Face| render_face(f, Style::Photo, SIZE).unwrap().data;
    let reference = img(&base);
    let differs = |f: Face, what: &str| {
        let other = img(&f);
        let changed = reference.iter().zip(&other).filter(|(a, b)| a != b).count();
        assert!(changed > 20, "{what}: only {changed} bytes changed");
    };
    for &c in HairColor::ALL.iter().filter(|&&c| c != HairColor::Brown) {
        differs(
            Face {
                attributes: Attributes {
                    hair_color: c,
                    ..base.attributes
                },
                ..base
            },
            "hair colour",
        );
    }
    for &h in Hairstyle::ALL.iter().filter(|&&h| h != Hairstyle::Short) {
        differs(
            Face {
                attributes: Attributes {
                    hairstyle: h,
                    ..base.attributes
                },
                ..base
            },
            "hairstyle",
        );
    }
    for &m in Mouth::ALL.iter().filter(|&&m| m != Mouth::Neutral) {
        differs(
            Face {
                attributes: Attributes {
                    mouth: m,
                    ..base.attributes
                },
                ..base
            },
            "mouth",
        );
    }
    for &g in Glasses::ALL.iter().filter(|&&g| g != Glasses::None) {
        differs(
            Face {
                attributes: Attributes {
                    glasses: g,
                    ..base.attributes
                },
                ..base
            },
            "glasses",
        );
    }
    // Hair colour stays visible on a bald head (the eyebrows carry it).
    let bald = Attributes {
        hairstyle: Hairstyle::Bald,
        ..base.attributes
    };
    let a = img(&Face {
        attributes: bald,
        ..base
    });
    let b = img(&Face {
        attributes: Attributes {
            hair_color: HairColor::Purple,
            ..bald
        },
        ..base
    });
    assert!(a.iter().zip(&b).filter(|(x, y)| x != y).count() > 20);
    // The negative is the photo inverted.
    let neg = render_face(&base, Style::Negative, SIZE).unwrap().data;
    assert!(neg.iter().zip(&reference).all(|(n, p)| *n == 255 - *p));
    assert!(render_face(&base, Style::Photo, 4).is_err());
}

#[test]
fn latent_map_gives_every_class_its_share() {
    // z ~ N(0, I) from a fixed stream: each class of each attribute within ±3 % of 1/n.
    let device = Device::flex();
    let z = styleclip::toyfaces::fit::fit_latents(3, 0, 6000, 16, &device);
    let v = z.into_data().try_into_vec_as::<f32>().unwrap();
    let mut counts = [[0usize; 6]; 6];
    for row in v.chunks_exact(16) {
        for (k, &i) in Face::from_latent(row)
            .attributes
            .indices()
            .iter()
            .enumerate()
        {
            counts[k][i] += 1;
        }
    }
    for (k, &n) in styleclip::toyfaces::CLASS_COUNTS.iter().enumerate() {
        for &c in &counts[k][..n] {
            let share = c as f64 / 6000.0;
            assert!(
                (share - 1.0 / n as f64).abs() < 0.03,
                "attribute {k}: {:?}",
                &counts[k][..n]
            );
        }
    }
}

#[test]
fn captions_use_the_paper_prompts_and_skip_colours_on_sketches() {
    let mut seen = std::collections::HashSet::new();
    for seed in 0..3000 {
        let a = Attributes::sample(seed);
        let c = a.caption_seeded(Style::Photo, seed);
        for phrase in [
            "mohawk hairstyle",
            "purple hair",
            "smiling face",
            "sunglasses",
            "blonde hair",
        ] {
            if c.contains(phrase) {
                seen.insert(phrase);
            }
        }
        let s = a.caption_seeded(Style::Sketch, seed);
        assert!(s.contains("sketch") || s.contains("drawing"), "{s}");
        for colour in ["purple", "blonde", "pink", "yellow", "skin"] {
            assert!(!s.contains(colour), "{s}");
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[test]
fn shipped_oracle_reads_held_out_renders() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/toyfaces/oracle.safetensors"
    );
    let device = Device::flex();
    let oracle = Oracle::load(path, &device).expect("weights/toyfaces/oracle.safetensors");
    let faces: Vec<Face> = (0..200).map(|i| face(9_000_000 + i)).collect();
    // Every attribute on photos (the generator's domain, where edits are scored); the style
    // on all three renderings.
    let mut agree = [0usize; 6];
    let mut style_hits = 0;
    for style in [Style::Photo, Style::Sketch, Style::Negative] {
        let x = render_batch(&faces, style, SIZE, &device).unwrap();
        for (r, f) in oracle.read(x).unwrap().iter().zip(&faces) {
            if style == Style::Photo {
                let (a, b) = (r.attributes.indices(), f.attributes.indices());
                for k in 0..6 {
                    agree[k] += usize::from(a[k] == b[k]);
                }
            }
            style_hits += usize::from(r.style == style);
        }
    }
    let rates: Vec<f64> = agree
        .iter()
        .map(|&a| a as f64 / faces.len() as f64)
        .collect();
    let style_rate = style_hits as f64 / (3 * faces.len()) as f64;
    println!(
        "oracle accuracy on photos (hair_color hairstyle mouth glasses skin background): \
         {rates:.3?}; style over all renderings: {style_rate:.3}"
    );
    assert!(rates.iter().all(|&r| r >= 0.98), "{rates:?}");
    assert!(style_rate >= 0.98, "style {style_rate}");
    // Bad input is an error, not a panic.
    assert!(
        oracle
            .read(Tensor::<4>::zeros([1, 3, 32, 32], &device))
            .is_err()
    );
}

#[test]
fn forced_captions_name_the_attribute_but_never_a_colour_on_sketches() {
    // Mouth words of every phrasing the captions use.
    let mouth_words = [
        "smil",
        "frown",
        "open mouth",
        "surprised",
        "neutral",
        "straight",
    ];
    for seed in 0..500 {
        let a = Attributes::sample(seed);
        let c = a.caption_naming(Style::Photo, seed, 2);
        assert!(mouth_words.iter().any(|w| c.contains(w)), "{c}");
        let s = a.caption_naming(Style::Sketch, seed, 0);
        // Colours stay unnamed on sketches even when forced.
        for colour in ["purple", "blonde", "black", "brown", "red", "grey"] {
            assert!(!s.contains(colour), "{s}");
        }
    }
}

#[test]
fn face_codes_are_one_hot_per_attribute_and_follow_the_latent_map() {
    use styleclip::toyfaces::CLASS_COUNTS;
    use styleclip::toyfaces::fit::{FACE_CODE_DIMS, face_code};
    let device = Device::flex();
    let z = styleclip::toyfaces::fit::fit_latents(5, 0, 300, 64, &device);
    let v = z.into_data().try_into_vec_as::<f32>().unwrap();
    for row in v.chunks_exact(64) {
        let code = face_code(row);
        assert_eq!(code.len(), FACE_CODE_DIMS);
        let face = Face::from_latent(row);
        let mut offset = 0;
        for (k, &n) in CLASS_COUNTS.iter().enumerate() {
            let slot = &code[offset..offset + n];
            assert_eq!(slot.iter().sum::<f32>(), 1.0);
            assert_eq!(slot[face.attributes.indices()[k]], 1.0);
            offset += n;
        }
        assert_eq!(offset, FACE_CODE_DIMS);
        // PixelNorm first: the face depends on the direction of z only.
        let scaled: Vec<f32> = row.iter().map(|x| x * 1.7).collect();
        assert_eq!(Face::from_latent(&scaled).attributes, face.attributes);
    }
}

#[test]
fn the_written_mapping_draws_what_the_face_codes_drew() {
    // Stage 2 of the generator fit on a small random generator (every weight random, so no
    // symmetry hides a wrong fold): G'(mapping'(z)) must equal G(c(z)·T) away from the class
    // boundaries' ramps, for n_mlp 4 (middle layers pass the code on) and 2 (none).
    use styleclip::stylegan2::{Generator, GeneratorConfig, NoiseMode};
    use styleclip::toyfaces::fit::{face_code, face_code_table, write_face_code_mapping};
    let device = Device::flex();
    for n_mlp in [4, 2] {
        let config = GeneratorConfig {
            size: 16,
            style_dim: 64,
            n_mlp,
            channels: vec![24, 20, 12],
            lr_mlp: 0.01,
            blur_kernel: vec![1.0, 3.0, 3.0, 1.0],
        };
        let g = Generator::new_seeded(config, 3, &device).unwrap();
        let z = styleclip::toyfaces::fit::fit_latents(9, 0, 24, 64, &device);
        let zv = z.clone().into_data().try_into_vec_as::<f32>().unwrap();
        let table = face_code_table(64, 11);
        let mut w = vec![0f32; 24 * 64];
        for (row, out) in zv.chunks_exact(64).zip(w.chunks_exact_mut(64)) {
            for (c, t) in face_code(row).iter().zip(table.chunks_exact(64)) {
                out.iter_mut().zip(t).for_each(|(o, t)| *o += c * t);
            }
        }
        let w = Tensor::<2>::from_data(TensorData::new(w, [24, 64]), &device);
        let before = g.synthesis(g.broadcast(w), NoiseMode::Zero);
        let g = write_face_code_mapping(g, 11).unwrap();
        let after = g.synthesis(g.broadcast(g.mapping(z)), NoiseMode::Zero);
        let diff = (before.clone() - after)
            .abs()
            .max_dim(1)
            .max_dim(2)
            .max_dim(3)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let scale = before.abs().max().into_scalar::<f32>();
        // Latents on a class boundary's ramp (|Φ(ẑ_k)·n − c| small) are blends by design.
        let on_ramp: Vec<bool> = zv
            .chunks_exact(64)
            .map(|row| {
                let u = styleclip::toyfaces::latent_units(row);
                styleclip::toyfaces::CLASS_COUNTS
                    .iter()
                    .enumerate()
                    .any(|(k, &n)| {
                        let x = u[k] * n as f32;
                        (x - x.round()).abs() < 0.004 * n as f32 && x.round() > 0.0
                    })
            })
            .collect();
        for (i, (&d, &ramp)) in diff.iter().zip(&on_ramp).enumerate() {
            assert!(
                ramp || d < 1e-3 * scale,
                "n_mlp {n_mlp}, latent {i}: max |Δ| {d} (scale {scale}); on ramps: {on_ramp:?}"
            );
        }
        assert!(g.latent_avg().is_some());
    }
}

#[test]
fn detail_weights_cover_the_mouth_glasses_and_brows_only() {
    use styleclip::toyfaces::fit::detail_weights;
    let device = Device::flex();
    let w = detail_weights(5.0, &device).unwrap();
    assert_eq!(w.dims(), [1, 1, 64, 64]);
    let v = w.into_data().try_to_vec::<f32>().unwrap();
    assert!(v.iter().all(|&x| x == 1.0 || x == 5.0));
    let at = |x: usize, y: usize| v[y * 64 + x];
    // Mouth centre (0.50, 0.645), a lens rim (0.40 ± 0.072, 0.4625), the forehead, a corner.
    assert_eq!(at(32, 41), 5.0);
    assert_eq!(at(21, 30), 5.0);
    assert_eq!(at(32, 12), 1.0);
    assert_eq!(at(2, 2), 1.0);
    let share = v.iter().filter(|&&x| x == 5.0).count() as f64 / v.len() as f64;
    assert!((0.05..0.3).contains(&share), "detail share {share}");
    assert!(detail_weights(0.0, &device).is_err());
    assert!(detail_weights(f32::NAN, &device).is_err());
}

/// The mouth region lies inside the detail region, and the balance factors equalise what a
/// mouth change costs the pixel loss across skin tones, measured on the renderer itself.
#[test]
fn mouth_balance_equalises_the_cost_of_a_smile_across_skins() {
    use styleclip::toyfaces::Skin;
    use styleclip::toyfaces::fit::{detail_weights, mouth_factor, mouth_mask};
    let device = Device::flex();
    let m = mouth_mask(&device).unwrap();
    assert_eq!(m.dims(), [1, 1, 64, 64]);
    let m = m.into_data().try_to_vec::<f32>().unwrap();
    let d = detail_weights(5.0, &device).unwrap();
    let d = d.into_data().try_to_vec::<f32>().unwrap();
    assert!(m.iter().all(|&x| x == 0.0 || x == 1.0));
    assert!(m.iter().zip(&d).all(|(&m, &d)| m == 0.0 || d == 5.0));
    // Mouth centre in, a lens rim and the forehead out.
    assert_eq!(m[41 * 64 + 32], 1.0);
    assert_eq!(m[30 * 64 + 21], 0.0);
    assert_eq!(m[12 * 64 + 32], 0.0);
    let share = m.iter().sum::<f32>() / m.len() as f32;
    assert!((0.01..0.1).contains(&share), "mouth share {share}");
    // Smile against neutral, centred, per skin: the weighted L1 cost of the change.
    let cost = |skin: Skin| {
        let draw = |mouth: Mouth| {
            let mut attributes = Attributes::sample(3);
            attributes.skin = skin;
            attributes.mouth = mouth;
            let face = Face {
                attributes,
                jitter: Jitter::NONE,
            };
            render_face(&face, Style::Photo, 64).unwrap()
        };
        let (a, b) = (draw(Mouth::Smile), draw(Mouth::Neutral));
        let l1: f32 = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| f32::from(x.abs_diff(y)) / 255.0)
            .sum();
        l1 * mouth_factor(skin)
    };
    assert_eq!(mouth_factor(Skin::Light), 1.0);
    assert!((mouth_factor(Skin::Dark) - 5.05).abs() < 0.01);
    let light = cost(Skin::Light);
    for skin in [Skin::Tan, Skin::Dark] {
        let r = cost(skin) / light;
        eprintln!("{skin:?}: balanced smile cost {r:.3} of light skin's");
        assert!(
            (0.75..1.33).contains(&r),
            "{skin:?}: balanced cost {r:.3} of light's"
        );
    }
}

/// Checks shared by the twin-pair sources: `[6, 3, 224, 224]` images twice, one caption per
/// pair, the two images of every pair different, and the same draw again for the same
/// `(seed, step)`.
fn check_seeded_twin_pairs(
    draw: impl Fn() -> (Tensor<4>, Tensor<4>, Tensor<2, Int>),
) -> Tensor<2, Int> {
    let (a, b, tokens) = draw();
    assert_eq!(a.dims(), [6, 3, 224, 224]);
    assert_eq!(b.dims(), [6, 3, 224, 224]);
    assert_eq!(tokens.dims()[0], 6);
    let per_pair = (a.clone() - b)
        .abs()
        .sum_dim(3)
        .sum_dim(2)
        .sum_dim(1)
        .reshape([6])
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    assert!(
        per_pair.iter().all(|&d| d > 0.0),
        "a twin equals its pair: {per_pair:?}"
    );
    let (again, _, again_tokens) = draw();
    let same = (again - a).abs().max().into_scalar::<f32>();
    assert_eq!(same, 0.0);
    assert_eq!(again_tokens.into_data(), tokens.clone().into_data());
    tokens
}

/// Invariant pairs: one short caption per pair, two different images per pair, a function of
/// `(seed, step)` alone.
#[test]
fn invariant_pairs_are_seeded_twins_with_one_caption_each() {
    use styleclip::clip::Tokenizer;
    use styleclip::toyfaces::contrastive::invariant_pairs;
    let device = Device::flex();
    let tok = Tokenizer::new();
    check_seeded_twin_pairs(|| {
        let p = invariant_pairs(3, 5, 6, &tok, &device).unwrap();
        (p.first, p.second, p.tokens)
    });
}

/// Ranked pairs: one short caption per pair, two different images per pair, a function of
/// `(seed, step)` alone.
#[test]
fn ranked_pairs_are_seeded_twins_with_one_short_caption_each() {
    use styleclip::clip::Tokenizer;
    use styleclip::toyfaces::contrastive::ranked_pairs;
    let device = Device::flex();
    let tok = Tokenizer::new();
    let tokens = check_seeded_twin_pairs(|| {
        let p = ranked_pairs(3, 5, 6, &tok, &device).unwrap();
        (p.better, p.worse, p.tokens)
    });
    // Short captions: "a/an [adjective] noun [suffix] with ..." naming one or two attributes.
    let tokens = tokens.into_data().try_into_vec_as::<i64>().unwrap();
    for row in tokens.chunks(77) {
        let len = row.iter().position(|&t| t == 49407).unwrap();
        assert!(len <= 16, "caption of {len} tokens is not short");
    }
}
