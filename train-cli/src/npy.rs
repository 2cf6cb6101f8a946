//! NumPy `.npy` arrays (little-endian, C order): the reference inputs of the
//! golden test and the unrelated photos `dermlens ood` can be given.

use anyhow::{Context, Result, bail};
use image::RgbImage;

/// An array's element type, shape and raw data.
#[derive(Debug, Clone, PartialEq)]
pub struct Array<'a> {
    /// The `descr` of the header, e.g. `|u1` or `<f4`.
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

/// Parses the header of a `.npy` file and checks that the data fills the shape.
pub fn parse(bytes: &[u8]) -> Result<Array<'_>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => bail!("unsupported .npy version {v}"),
    };
    let header = bytes.get(start..start + header_len).context("truncated .npy header")?;
    let header = String::from_utf8_lossy(header);
    if header.contains("'fortran_order': True") {
        bail!("Fortran-ordered arrays are not supported");
    }
    let field = |name: &str| {
        header
            .split(&format!("'{name}':"))
            .nth(1)
            .map(str::trim)
            .context(format!("no {name} in the .npy header"))
    };
    let dtype = field("descr")?
        .split('\'')
        .nth(1)
        .context("unreadable descr in the .npy header")?
        .to_string();
    let shape_text =
        field("shape")?.split(['(', ')']).nth(1).context("unreadable shape in the .npy header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("unreadable shape ({shape_text}) in the .npy header"))?;
    let item = match dtype.as_str() {
        "|u1" | "|i1" => 1,
        "<f4" | "<i4" | "<u4" => 4,
        "<f8" | "<i8" => 8,
        other => bail!("unsupported element type {other}"),
    };
    let expected = shape
        .iter()
        .try_fold(item, |a: usize, &d| a.checked_mul(d))
        .context("absurd .npy shape")?;
    let data = &bytes[start + header_len..];
    if data.len() != expected {
        bail!("the array should hold {expected} bytes but holds {}", data.len());
    }
    Ok(Array { dtype, shape, data })
}

impl Array<'_> {
    /// The values of an `<f4` array.
    pub fn f32_values(&self) -> Result<Vec<f32>> {
        if self.dtype != "<f4" {
            bail!("expected a float32 array, found {}", self.dtype);
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A `u8` array of shape `(height, width, 3)` as an image.
    pub fn rgb_image(&self) -> Result<RgbImage> {
        let [h, w, 3] = self.shape[..] else {
            bail!("expected a (height, width, 3) array, found {:?}", self.shape)
        };
        if self.dtype != "|u1" {
            bail!("expected a C-ordered u8 array, found {}", self.dtype);
        }
        RgbImage::from_raw(w as u32, h as u32, self.data.to_vec()).context("array too large")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn arrays_are_read_and_checked() {
        let bytes = npy("|u1", "(2, 1, 3)", &[1, 2, 3, 4, 5, 6]);
        let image = parse(&bytes).unwrap().rgb_image().unwrap();
        assert_eq!(image.dimensions(), (1, 2));
        assert_eq!(image.get_pixel(0, 1).0, [4, 5, 6]);
        let short = parse(&npy("|u1", "(2, 1, 3)", &[1, 2, 3, 4, 5])).unwrap_err();
        assert!(short.to_string().contains("should hold 6 bytes"), "{short}");
        let floats = npy("<f4", "(2,)", &[0, 0, 128, 63, 0, 0, 0, 64]);
        assert_eq!(parse(&floats).unwrap().f32_values().unwrap(), vec![1.0, 2.0]);
        assert!(parse(&floats).unwrap().rgb_image().is_err());
        assert!(parse(&npy("|u1", "(6,)", &[0; 6])).unwrap().rgb_image().is_err());
        assert!(parse(b"not numpy").is_err());
    }
}
