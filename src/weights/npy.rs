//! A reader for NumPy `.npy` files (format versions 1–3): little- or big-endian f2/f4/f8,
//! C or Fortran order. Fortran-ordered arrays are returned in row-major order.

use super::StoredDtype;

/// A parsed `.npy` array: dtype, shape, row-major little-endian bytes.
pub(crate) struct NpyArray {
    pub dtype: StoredDtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// `.npy` files start with these bytes.
pub(crate) const MAGIC: &[u8] = b"\x93NUMPY";

/// Parse a whole `.npy` file.
pub(crate) fn parse(data: &[u8]) -> Result<NpyArray, String> {
    if !data.starts_with(MAGIC) || data.len() < 10 {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let major = data[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([data[8], data[9]]) as usize, 10usize),
        2 | 3 => {
            let b = data.get(8..12).ok_or("truncated header")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = data
        .get(start..start.checked_add(header_len).ok_or("bad header length")?)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = field(header, "descr").ok_or("no 'descr' in header")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = match field(header, "fortran_order").ok_or("no 'fortran_order' in header")? {
        "True" => true,
        "False" => false,
        other => return Err(format!("bad fortran_order {other}")),
    };
    let shape_text = field(header, "shape").ok_or("no 'shape' in header")?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape {shape_text}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // `descr` comes from the file: it may be empty or start with a multi-byte character.
    let (big_endian, kind) = match descr.as_bytes().first() {
        Some(b'<' | b'=' | b'|') => (false, &descr[1..]),
        Some(b'>') => (true, &descr[1..]),
        _ => return Err(format!("unsupported dtype {descr:?}")),
    };
    let (dtype, size) = match kind {
        "f2" => (StoredDtype::F16, 2),
        "f4" => (StoredDtype::F32, 4),
        "f8" => (StoredDtype::F64, 8),
        other => return Err(format!("unsupported dtype {other} (float arrays only)")),
    };
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape too large")?;
    let body = &data[start + header_len..];
    let len = n.checked_mul(size).ok_or("shape too large")?;
    if body.len() < len {
        return Err(format!(
            "{} data bytes for shape {shape:?} of {descr}, need {len}",
            body.len()
        ));
    }
    let mut bytes = body[..len].to_vec();
    if big_endian {
        bytes.chunks_exact_mut(size).for_each(<[u8]>::reverse);
    }
    if fortran && shape.len() > 1 {
        bytes = fortran_to_c(&bytes, &shape, size);
    }
    Ok(NpyArray {
        dtype,
        shape,
        bytes,
    })
}

/// The value text of `'key': value` in a Python dict literal (values without nested commas
/// except the shape tuple).
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

fn fortran_to_c(bytes: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; bytes.len()];
    let mut index = vec![0usize; shape.len()];
    for c in 0..n {
        // Column-major offset of the row-major index.
        let mut f = 0;
        let mut stride = 1;
        for (i, d) in index.iter().zip(shape) {
            f += i * stride;
            stride *= d;
        }
        out[c * size..(c + 1) * size].copy_from_slice(&bytes[f * size..(f + 1) * size]);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}
