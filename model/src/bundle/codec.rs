//! Weight files: named f32 tensors written as a small JSON index and raw
//! data, with convolution and linear weights optionally stored as f16 or as
//! int8 with one scale per output row; plus the sha256 checksums the
//! manifest records for them.

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::DType;
use serde::{Deserialize, Serialize};

use super::BundleError;
use super::checksum::sha256_hex;
use super::manifest::{Encoding, WeightFile};
use crate::classifier::Classifier;

const WEIGHTS_MAGIC: &[u8; 8] = b"DLWEIGH2";

/// A named f32 tensor on its way into or out of a weight file.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Checks a fetched or read file against the manifest's checksum.
pub fn verify(file: &WeightFile, bytes: &[u8]) -> Result<(), BundleError> {
    let found = sha256_hex(bytes);
    if found != file.sha256 {
        return Err(BundleError::Checksum {
            file: file.file.clone(),
            expected: file.sha256.clone(),
            found,
        });
    }
    Ok(())
}

/// Every tensor of a classifier, as f32.
pub fn tensors_of(classifier: &Classifier) -> Vec<NamedTensor> {
    classifier
        .collect(None, None, false)
        .into_iter()
        .filter_map(|t| {
            let name = t.name.clone();
            let data = bridge::into_data(t).ok()?.convert_dtype(DType::F32);
            let shape = data.shape().to_vec();
            Some(NamedTensor { name, shape, values: data.try_into_vec::<f32>().ok()? })
        })
        .collect()
}

/// Weights of convolutions and linear layers are the tensors worth compressing.
fn compressible(t: &NamedTensor) -> bool {
    t.name.ends_with(".weight") && t.shape.len() >= 2
}

/// Writes tensors into a weight file: magic, index length, JSON index, data.
/// `binding` (the checksum of the manifest the file belongs to, or empty) is
/// stored in the index, so a manifest edited after export is recognised.
pub fn encode(tensors: &[NamedTensor], encoding: Encoding, binding: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Entry<'a> {
        name: &'a str,
        shape: &'a [usize],
        encoding: Encoding,
    }
    let mut index = Vec::new();
    let mut data = Vec::new();
    for t in tensors {
        let enc = if compressible(t) { encoding } else { Encoding::F32 };
        index.push(Entry { name: &t.name, shape: &t.shape, encoding: enc });
        match enc {
            Encoding::F32 => t.values.iter().for_each(|v| data.extend_from_slice(&v.to_le_bytes())),
            Encoding::F16 => t
                .values
                .iter()
                .for_each(|v| data.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
            Encoding::Int8 => {
                // One symmetric scale per output row (the first dimension).
                let rows = t.shape[0].max(1);
                let per_row = (t.values.len() / rows).max(1);
                let mut scales = Vec::with_capacity(rows);
                let mut quantized = Vec::with_capacity(t.values.len());
                for r in 0..rows {
                    let row = t
                        .values
                        .get(r * per_row..((r + 1) * per_row).min(t.values.len()))
                        .unwrap_or(&[]);
                    let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                    scales.push(scale);
                    quantized.extend(
                        row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8),
                    );
                }
                scales.iter().for_each(|s| data.extend_from_slice(&s.to_le_bytes()));
                data.extend_from_slice(&quantized);
            }
        }
    }
    let index = serde_json::to_vec(&serde_json::json!({ "binding": binding, "tensors": index }))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(16 + index.len() + data.len());
    out.extend_from_slice(WEIGHTS_MAGIC);
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&data);
    out
}

/// A decoded weight file: the manifest checksum it is bound to, and its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub binding: String,
    pub tensors: Vec<NamedTensor>,
}

/// Reads a weight file written by [`encode`]; `file` names it in errors.
pub fn decode(bytes: &[u8], file: &str) -> Result<Decoded, BundleError> {
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        shape: Vec<usize>,
        encoding: Encoding,
    }
    let bad = |reason: &str| BundleError::Weights { file: file.into(), reason: reason.into() };
    if bytes.len() < 16 || &bytes[..8] != WEIGHTS_MAGIC {
        return Err(bad("it does not start with the dermlens weight header"));
    }
    let index_len =
        u64::from_le_bytes(bytes[8..16].try_into().map_err(|_| bad("short header"))?) as usize;
    let index_end = 16usize
        .checked_add(index_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("truncated index"))?;
    #[derive(Deserialize)]
    struct Index {
        binding: String,
        tensors: Vec<Entry>,
    }
    let Index { binding, tensors: index } =
        serde_json::from_slice(&bytes[16..index_end]).map_err(|e| bad(&e.to_string()))?;
    let mut at = index_end;
    let mut take = |n: usize| -> Result<&[u8], BundleError> {
        let end =
            at.checked_add(n).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("truncated data"))?;
        let slice = &bytes[at..end];
        at = end;
        Ok(slice)
    };
    let mut tensors = Vec::with_capacity(index.len());
    for e in index {
        let n = e
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad("absurd shape"))?;
        let values: Vec<f32> = match e.encoding {
            Encoding::F32 => take(n.checked_mul(4).ok_or_else(|| bad("absurd shape"))?)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Encoding::F16 => take(n.checked_mul(2).ok_or_else(|| bad("absurd shape"))?)?
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Encoding::Int8 => {
                let rows = e.shape.first().copied().unwrap_or(1).max(1);
                let scales: Vec<f32> =
                    take(rows.checked_mul(4).ok_or_else(|| bad("absurd shape"))?)?
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                if scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
                    return Err(bad("a quantisation scale is not a positive number"));
                }
                let per_row = (n / rows).max(1);
                take(n)?
                    .iter()
                    .enumerate()
                    .map(|(i, &q)| f32::from(q as i8) * scales[(i / per_row).min(rows - 1)])
                    .collect()
            }
        };
        // A weight that is not a number would turn every answer into NaN.
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(&format!("{} holds a value that is not a finite number", e.name)));
        }
        tensors.push(NamedTensor { name: e.name, shape: e.shape, values });
    }
    if at != bytes.len() {
        return Err(bad("trailing bytes after the last tensor"));
    }
    Ok(Decoded { binding, tensors })
}

/// Splits members' tensors into those all members share byte for byte and
/// each member's own.
pub fn factor_shared(members: &[Vec<NamedTensor>]) -> (Vec<NamedTensor>, Vec<Vec<NamedTensor>>) {
    let Some(first) = members.first() else { return (Vec::new(), Vec::new()) };
    let shared_names: Vec<String> = if members.len() < 2 {
        Vec::new()
    } else {
        first
            .iter()
            .filter(|t| {
                members[1..]
                    .iter()
                    .all(|m| m.iter().any(|o| o.name == t.name && o.values == t.values))
            })
            .map(|t| t.name.clone())
            .collect()
    };
    let shared = first.iter().filter(|t| shared_names.contains(&t.name)).cloned().collect();
    let own = members
        .iter()
        .map(|m| m.iter().filter(|t| !shared_names.contains(&t.name)).cloned().collect())
        .collect();
    (shared, own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<NamedTensor> {
        vec![
            NamedTensor {
                name: "a.weight".into(),
                shape: vec![2, 3],
                values: vec![0.5, -1.0, 0.25, 3.0, 0.0, -1.5],
            },
            NamedTensor { name: "a.bias".into(), shape: vec![2], values: vec![0.1, -0.2] },
        ]
    }

    #[test]
    fn encodings_round_trip_within_their_precision() {
        let t = sample();
        let f32 = decode(&encode(&t, Encoding::F32, "abc"), "x").unwrap();
        assert_eq!((f32.binding.as_str(), &f32.tensors), ("abc", &t));
        let f16 = decode(&encode(&t, Encoding::F16, ""), "x").unwrap().tensors;
        assert_eq!(f16[0].values, t[0].values, "these values are exact in f16");
        let int8 = decode(&encode(&t, Encoding::Int8, ""), "x").unwrap().tensors;
        for (a, b) in int8[0].values.iter().zip(&t[0].values) {
            // Half a quantisation step of the row's scale (row max / 127).
            assert!((a - b).abs() <= 3.0 / 127.0 / 2.0 + 1e-6, "{a} vs {b}");
        }
        assert_eq!(int8[1], t[1], "biases stay f32");
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = encode(&sample(), Encoding::Int8, "");
        for cut in [0, 7, 15, 20, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], "x").is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, "x").is_err());
        // NaN or infinity in a weight, in any encoding, is refused by name.
        for bad in [f32::NAN, f32::INFINITY] {
            let mut t = sample();
            t[1].values[1] = bad;
            for encoding in [Encoding::F32, Encoding::F16, Encoding::Int8] {
                let error = decode(&encode(&t, encoding, ""), "x").unwrap_err().to_string();
                assert!(
                    error.contains("a.bias holds a value that is not a finite number"),
                    "{error}"
                );
            }
        }
        let file = WeightFile {
            file: "m.bin".into(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
        };
        assert!(verify(&file, &bytes).is_ok());
        assert!(matches!(verify(&file, &bytes[1..]), Err(BundleError::Checksum { .. })));
    }

    #[test]
    fn shared_tensors_are_factored_out() {
        let a = sample();
        let mut b = sample();
        b[0].values[0] = 9.0;
        let (shared, own) = factor_shared(&[a, b]);
        assert_eq!(shared.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a.bias"]);
        assert_eq!(own[1][0].values[0], 9.0);
        assert_eq!(own[0].len(), 1);
    }
}
