//! FFHQ alignment from landmarks against e4e's official `utils/alignment.py::align_face` run on
//! CPU (`scripts/gen_align_fixtures.py`, Pillow 13 / numpy 2.4 / scipy 1.17):
//! - six synthetic photos (an integer formula both sides evaluate) whose faces need no crop or
//!   pad, a crop, a crop and pad (reflect, blur, median fill), a shrink (PIL Lanczos), a final
//!   resize (`S = 128 < T = 512`, integer landmarks) and padding off: the output bytes, the
//!   quad and every stage's values (shrink factor, crop box, pad, the quad after each stage);
//! - 5-point against 68-point landmarks;
//! - the errors: bad landmarks, bad sizes, empty images, faces outside the photo, hostile
//!   quads that would need gigabytes.

mod common;

use common::fixture;
use serde_json::Value;
use styleclip::Error;
use styleclip::imaging::align::{
    AlignOptions, Landmarks, MAX_PADDED_PIXELS, Quad, align_face, align_face_with, crop, ffhq_quad,
    pad, resize_lanczos, shrink, transform,
};
use styleclip::imaging::{Rgb8, read_rgb8};

/// The quad's numbers, absolute (the brief's bar; they agree to the last bit).
const QUAD_TOL: f64 = 1e-9;
/// Share of output bytes that must be identical to the official (all are, measured here; a
/// platform `libm` whose `exp` or `sin` rounds differently may move a byte by 1).
const MIN_EXACT: f64 = 0.999;

fn cases() -> Value {
    let text = std::fs::read_to_string(fixture("align/cases.json")).expect("cases.json");
    serde_json::from_str(&text).expect("valid json")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(inner) => inner.iter().map(|y| y.as_f64().unwrap()).collect(),
            None => vec![x.as_f64().unwrap()],
        })
        .collect()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().expect("integer") as usize
}

/// The script's `synth`: a horizontal ramp, a vertical ramp, rings in `x² + 2y²`, then discs.
fn synth(w: usize, h: usize, seed: i64, discs: &Value) -> Rgb8 {
    let (wi, hi) = (w as i64, h as i64);
    let discs: Vec<(i64, i64, i64, [u8; 3])> = discs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let n = |i: usize| d[i].as_i64().unwrap();
            let c = |i: usize| d[3][i].as_u64().unwrap() as u8;
            (n(0), n(1), n(2), [c(0), c(1), c(2)])
        })
        .collect();
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..hi {
        for x in 0..wi {
            let mut px = [
                (x * 255 / (wi - 1)) as u8,
                (y * 255 / (hi - 1)) as u8,
                ((x * x + 2 * y * y) / (97 + 13 * seed) + 40 * seed).rem_euclid(256) as u8,
            ];
            for &(fx, fy, fr, colour) in &discs {
                let (cx, cy, r) = (wi * fx / 100, hi * fy / 100, wi.min(hi) * fr / 100);
                if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                    px = colour;
                }
            }
            data.extend_from_slice(&px);
        }
    }
    Rgb8 {
        width: w,
        height: h,
        data,
    }
}

fn landmarks_of(case: &Value) -> Landmarks {
    let flat = f64s(&case["landmarks"]);
    let points: Vec<[f64; 2]> = flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    Landmarks::ibug68(&points).expect("68 finite points")
}

fn image_of(case: &Value, discs: &Value) -> Rgb8 {
    let im = &case["image"];
    synth(
        usize_of(&im["width"]),
        usize_of(&im["height"]),
        im["seed"].as_i64().unwrap(),
        discs,
    )
}

fn options_of(case: &Value) -> AlignOptions {
    AlignOptions {
        output_size: usize_of(&case["output_size"]),
        transform_size: usize_of(&case["transform_size"]),
        enable_padding: case["enable_padding"].as_bool().unwrap(),
    }
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn corners(q: &Quad) -> Vec<f64> {
    q.corners.iter().flatten().copied().collect()
}

#[test]
fn synth_matches_the_scripts_images() {
    let meta = cases();
    for case in meta["cases"].as_array().unwrap() {
        let img = image_of(case, &meta["discs"]);
        let mut crc = flate2::Crc::new();
        crc.update(&img.data);
        assert_eq!(
            crc.sum() as u64,
            case["image"]["crc32"].as_u64().unwrap(),
            "{}: the input image differs from the script's",
            case["name"]
        );
    }
}

/// A JSON number or nested lists of them, flattened (`u64` bit patterns).
fn u64s(v: &Value) -> Vec<u64> {
    match v.as_array() {
        Some(items) => items.iter().flat_map(u64s).collect(),
        None => vec![v.as_u64().expect("u64")],
    }
}

#[test]
fn quad_matches_official() {
    let meta = cases();
    let (mut worst, mut same_bits, mut values) = (0.0f64, 0usize, 0usize);
    for case in meta["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let q = ffhq_quad(&landmarks_of(case)).unwrap();
        let ours: Vec<f64> = [&q.center[..], &q.x, &q.y, &corners(&q), &[q.size]].concat();
        let bits = &case["quad_bits"];
        let want: Vec<f64> = ["center", "x", "y", "corners", "size"]
            .iter()
            .flat_map(|k| u64s(&bits[*k]))
            .map(f64::from_bits)
            .collect();
        let m = max_abs(&ours, &want);
        let same = ours
            .iter()
            .zip(&want)
            .filter(|(a, b)| a.to_bits() == b.to_bits())
            .count();
        println!(
            "{name}: quad side {:.3}, max |Δ| {m:e}, {same} of {} values bit-identical",
            q.size,
            ours.len()
        );
        assert!(m <= QUAD_TOL, "{name}: quad differs by {m:e}");
        worst = worst.max(m);
        same_bits += same;
        values += ours.len();
    }
    println!("worst quad difference {worst:e}; {same_bits} of {values} values bit-identical");
}

#[test]
fn stages_match_official() {
    let meta = cases();
    for case in meta["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let st = &case["stages"];
        let opts = options_of(case);
        let mut img = image_of(case, &meta["discs"]);
        let mut quad = ffhq_quad(&landmarks_of(case)).unwrap();

        let shrunk = shrink(&img, &quad, opts.output_size).unwrap();
        assert_eq!(
            shrunk.is_some(),
            usize_of(&st["shrink"]) > 1,
            "{name}: shrink"
        );
        if let Some((i, q)) = shrunk {
            (img, quad) = (i, q);
        }
        let size = [img.width, img.height];
        assert_eq!(
            size.to_vec(),
            f64s(&st["shrunk_size"])
                .iter()
                .map(|&v| v as usize)
                .collect::<Vec<_>>(),
            "{name}: shrunk size"
        );

        let crop_box: Vec<i64> = f64s(&st["crop"]).iter().map(|&v| v as i64).collect();
        let cropped = crop(&img, &quad).unwrap();
        let want_crop = crop_box[2] - crop_box[0] < img.width as i64
            || crop_box[3] - crop_box[1] < img.height as i64;
        assert_eq!(cropped.is_some(), want_crop, "{name}: crop");
        if let Some((i, q)) = cropped {
            assert_eq!(
                [i.width as i64, i.height as i64],
                [crop_box[2] - crop_box[0], crop_box[3] - crop_box[1]],
                "{name}: crop size"
            );
            (img, quad) = (i, q);
        }

        let border = st["border"].as_i64().unwrap();
        let p: Vec<i64> = f64s(&st["pad"]).iter().map(|&v| v as i64).collect();
        let want_pad = opts.enable_padding && p.iter().copied().max().unwrap() > border - 4;
        if opts.enable_padding {
            let padded = pad(&img, &quad).unwrap();
            assert_eq!(padded.is_some(), want_pad, "{name}: pad");
            if let Some((i, q)) = padded {
                assert_eq!(
                    [i.width as i64, i.height as i64],
                    [
                        img.width as i64 + p[0] + p[2],
                        img.height as i64 + p[1] + p[3]
                    ],
                    "{name}: padded size"
                );
                (img, quad) = (i, q);
            }
        }
        let size: Vec<f64> = vec![img.width as f64, img.height as f64];
        assert_eq!(
            size,
            f64s(&st["image_size"]),
            "{name}: image size before the warp"
        );
        let d = max_abs(&corners(&quad), &f64s(&st["corners"]))
            .max((quad.size - st["size"].as_f64().unwrap()).abs());
        assert!(
            d <= QUAD_TOL,
            "{name}: quad before the warp differs by {d:e}"
        );
        println!(
            "{name}: shrink {}, crop {}, pad {} ({p:?}), warped from {}×{}",
            usize_of(&st["shrink"]),
            want_crop,
            want_pad,
            img.width,
            img.height
        );
    }
}

#[test]
fn output_bytes_match_official() {
    let meta = cases();
    let (mut total, mut exact) = (0usize, 0usize);
    for case in meta["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let img = image_of(case, &meta["discs"]);
        let out = align_face_with(&img, &landmarks_of(case), &options_of(case)).unwrap();
        let want = read_rgb8(fixture(&format!("align/{}", case["png"].as_str().unwrap()))).unwrap();
        assert_eq!(
            (out.width, out.height),
            (want.width, want.height),
            "{name}: size"
        );
        let mut hist = [0usize; 3];
        let mut max = 0u8;
        for (a, b) in out.data.iter().zip(&want.data) {
            let d = a.abs_diff(*b);
            max = max.max(d);
            hist[(d as usize).min(2)] += 1;
        }
        let n = out.data.len();
        println!(
            "{name}: {}×{}: {} of {n} bytes equal, {} differ by 1, {} by more (max {max})",
            out.width, out.height, hist[0], hist[1], hist[2]
        );
        assert!(max <= 1, "{name}: a byte differs by {max}");
        assert!(
            hist[0] as f64 >= MIN_EXACT * n as f64,
            "{name}: only {} of {n} equal",
            hist[0]
        );
        total += n;
        exact += hist[0];
    }
    println!("all cases: {exact} of {total} bytes equal");
}

#[test]
fn five_points_give_the_same_quad_and_image() {
    let meta = cases();
    for case in meta["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let lm68 = landmarks_of(case);
        let five = lm68.to_five().unwrap();
        let Landmarks::Five {
            left_eye,
            right_eye,
            nose,
            mouth_left,
            mouth_right,
        } = five
        else {
            panic!("to_five gives five points")
        };
        let Landmarks::Ibug68(p) = &lm68 else {
            unreachable!()
        };
        // The eye centres are the means of 36–41 and 42–47, the mouth corners 48 and 54.
        let mean =
            |r: std::ops::Range<usize>, k: usize| p[r].iter().map(|q| q[k]).sum::<f64>() / 6.0;
        for k in 0..2 {
            assert!((left_eye[k] - mean(36..42, k)).abs() < 1e-12);
            assert!((right_eye[k] - mean(42..48, k)).abs() < 1e-12);
        }
        assert_eq!((nose, mouth_left, mouth_right), (p[30], p[48], p[54]));
        let by_hand =
            Landmarks::five([left_eye, right_eye, nose, mouth_left, mouth_right]).unwrap();
        let (q68, q5) = (ffhq_quad(&lm68).unwrap(), ffhq_quad(&by_hand).unwrap());
        assert_eq!(q68, q5, "{name}: quads differ");
        if name == "pad" {
            let img = image_of(case, &meta["discs"]);
            assert_eq!(
                align_face(&img, &lm68, 256).unwrap(),
                align_face(&img, &by_hand, 256).unwrap(),
                "{name}: images differ"
            );
        }
    }
}

#[test]
fn e4e_defaults_and_sizes() {
    let meta = cases();
    let case = &meta["cases"][1];
    let (img, lm) = (image_of(case, &meta["discs"]), landmarks_of(case));
    assert_eq!(AlignOptions::default(), AlignOptions::e4e());
    assert_eq!(
        align_face(&img, &lm, 256).unwrap(),
        align_face_with(&img, &lm, &AlignOptions::e4e()).unwrap()
    );
    let small = align_face(&img, &lm, 64).unwrap();
    assert_eq!(
        (small.width, small.height, small.data.len()),
        (64, 64, 64 * 64 * 3)
    );
    let ffhq = AlignOptions::ffhq();
    assert_eq!((ffhq.output_size, ffhq.transform_size), (1024, 4096));
    // Same-size resize is a copy, as PIL's.
    assert_eq!(resize_lanczos(&img, img.width, img.height).unwrap(), img);
}

fn expect_invalid<T: std::fmt::Debug>(what: &str, r: styleclip::Result<T>, needle: &str) {
    match r {
        Err(Error::InvalidArgument(msg)) => {
            assert!(
                msg.contains(needle),
                "{what}: message {msg:?} lacks {needle:?}"
            );
        }
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

/// Five points of a face with eye centres `d` apart around `(cx, cy)`.
fn face(cx: f64, cy: f64, d: f64) -> Landmarks {
    Landmarks::five([
        [cx - d / 2.0, cy],
        [cx + d / 2.0, cy],
        [cx, cy + 0.5 * d],
        [cx - 0.45 * d, cy + d],
        [cx + 0.45 * d, cy + d],
    ])
    .unwrap()
}

fn grey(w: usize, h: usize) -> Rgb8 {
    Rgb8 {
        width: w,
        height: h,
        data: vec![128; w * h * 3],
    }
}

#[test]
fn invalid_landmarks_are_refused() {
    expect_invalid(
        "67 points",
        Landmarks::ibug68(&[[1.0, 2.0]; 67]),
        "68 points, got 67",
    );
    let mut pts = vec![[10.0, 20.0]; 68];
    pts[40] = [f64::NAN, 1.0];
    expect_invalid("NaN point", Landmarks::ibug68(&pts), "point 40");
    pts[40] = [1.0, f64::INFINITY];
    expect_invalid("infinite point", Landmarks::ibug68(&pts), "not finite");
    expect_invalid(
        "NaN nose",
        Landmarks::five([
            [0.0; 2],
            [1.0, 0.0],
            [f64::NAN, 0.0],
            [0.0, 1.0],
            [1.0, 1.0],
        ]),
        "nose",
    );
    // The enum's fields are public: ffhq_quad checks again.
    expect_invalid(
        "3 points",
        ffhq_quad(&Landmarks::Ibug68(vec![[0.0; 2]; 3])),
        "68 points",
    );
    let same_eyes = Landmarks::Five {
        left_eye: [50.0, 50.0],
        right_eye: [50.0, 50.0],
        nose: [50.0, 60.0],
        mouth_left: [45.0, 70.0],
        mouth_right: [55.0, 70.0],
    };
    expect_invalid("eyes coincide", ffhq_quad(&same_eyes), "coincide");
    let all_same = vec![[7.0, 7.0]; 68];
    expect_invalid(
        "one point 68 times",
        ffhq_quad(&Landmarks::ibug68(&all_same).unwrap()),
        "coincide",
    );
    expect_invalid(
        "overflowing quad",
        ffhq_quad(&face(0.0, 0.0, 1e300)),
        "unusable",
    );
    expect_invalid(
        "quad beyond 2^31",
        ffhq_quad(&face(1e12, 0.0, 40.0)),
        "unusable",
    );
}

#[test]
fn invalid_images_and_sizes_are_refused() {
    let lm = face(50.0, 45.0, 30.0);
    let img = grey(100, 100);
    let empty = Rgb8 {
        width: 0,
        height: 0,
        data: vec![],
    };
    expect_invalid("empty image", align_face(&empty, &lm, 256), "0×0");
    let short = Rgb8 {
        width: 10,
        height: 10,
        data: vec![0; 299],
    };
    expect_invalid("short buffer", align_face(&short, &lm, 256), "299 bytes");
    expect_invalid("output 0", align_face(&img, &lm, 0), "output_size 0");
    let bigger_output = AlignOptions {
        output_size: 512,
        transform_size: 256,
        enable_padding: true,
    };
    expect_invalid(
        "S > T",
        align_face_with(&img, &lm, &bigger_output),
        "output_size 512",
    );
    expect_invalid("T too large", align_face(&img, &lm, 20_000), "16384");
    expect_invalid("resize to 0", resize_lanczos(&img, 0, 10), "to 0×10");
    let q = ffhq_quad(&lm).unwrap();
    expect_invalid("transform 0", transform(&img, &q, 0), "got 0");
}

#[test]
fn faces_outside_or_hostile_are_refused() {
    let img = grey(100, 80);
    // Wholly outside: the official crashes in PIL's crop (or, with padding off, returns black).
    expect_invalid(
        "face right of the photo",
        align_face(&img, &face(400.0, 40.0, 30.0), 256),
        "outside",
    );
    expect_invalid(
        "face above the photo",
        align_face(&img, &face(50.0, -300.0, 30.0), 256),
        "outside",
    );
    // A face so large that shrinking leaves no pixels.
    expect_invalid(
        "giant face",
        align_face(&img, &face(50.0, 40.0, 1e6), 256),
        "no pixels",
    );
    // A quad of ~60 000 px over a 100×80 photo at S = T = 16384: no shrink (s = 1), so the pad
    // would be ~60 000² px; refused before allocating.
    let t = std::time::Instant::now();
    let r = align_face(&img, &face(50.0, 40.0, 15_000.0), 16_384);
    expect_invalid("hostile pad", r, &MAX_PADDED_PIXELS.to_string());
    assert!(
        t.elapsed().as_secs() < 5,
        "the refusal took {:?}",
        t.elapsed()
    );
    // Eyes a fraction of a pixel apart: the pad would be 0 px wide (the official divides by 0).
    expect_invalid(
        "tiny face",
        align_face(&img, &face(50.0, 40.0, 0.3), 256),
        "too small",
    );
}

#[test]
fn stages_skip_what_the_official_skips() {
    let meta = cases();
    let case = &meta["cases"][0]; // "inside": no shrink, crop or pad
    assert_eq!(case["name"], "inside");
    let (img, q) = (
        image_of(case, &meta["discs"]),
        ffhq_quad(&landmarks_of(case)).unwrap(),
    );
    assert!(shrink(&img, &q, 256).unwrap().is_none());
    assert!(crop(&img, &q).unwrap().is_none());
    assert!(pad(&img, &q).unwrap().is_none());
}
