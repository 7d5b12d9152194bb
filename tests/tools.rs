//! Device names and 8-bit image conversion.

use burn::prelude::*;
use styleclip::Error;
use styleclip::device::device_from_name;
use styleclip::imaging::{Rgb8, grid, to_rgb8};

#[test]
fn device_names() {
    assert!(device_from_name("flex").is_ok());
    assert!(device_from_name("cpu").is_ok());
    let err = device_from_name("tpu").unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("tpu")),
        "{err}"
    );
    assert!(device_from_name("cuda:x").is_err());
    #[cfg(not(feature = "cuda"))]
    {
        let err = device_from_name("cuda:1").unwrap_err();
        assert!(err.to_string().contains("--features cuda"), "{err}");
    }
}

#[test]
fn rgb8_follows_torchvision_save_image() {
    // torchvision: ((x + 1) / 2 * 255 + 0.5).clamp(0, 255) then truncation to u8.
    let device = Device::flex();
    let values = [-1.5f32, -1.0, -0.5, 0.0, 0.25, 0.999, 1.0, 3.0];
    let img = Tensor::<1>::from_floats(values, &device)
        .reshape([1, 1, 1, 8])
        .repeat_dim(1, 3);
    let out = to_rgb8(img).unwrap();
    assert_eq!((out[0].width, out[0].height), (8, 1));
    let red: Vec<u8> = out[0].data.chunks(3).map(|p| p[0]).collect();
    let want: Vec<u8> = values
        .iter()
        .map(|x| ((x + 1.0) / 2.0 * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
        .collect();
    assert_eq!(red, want);
    assert!(to_rgb8(Tensor::<4>::zeros([1, 2, 4, 4], &device)).is_err());
}

#[test]
fn grid_places_images_in_rows() {
    let px = |v: u8| Rgb8 {
        width: 2,
        height: 1,
        data: vec![v; 6],
    };
    let g = grid(&[px(1), px(2), px(3)], 2, 1).unwrap();
    assert_eq!((g.width, g.height), (2 * 3 + 1, 2 * 2 + 1));
    let at = |x: usize, y: usize| g.data[(y * g.width + x) * 3];
    assert_eq!(
        (at(1, 1), at(4, 1), at(1, 3), at(4, 3), at(0, 0)),
        (1, 2, 3, 0, 0)
    );
    assert!(grid(&[], 2, 0).is_err());
}
