//! What each fuzz target does with one input. Shared by the targets and by
//! `model/tests/fuzz_regressions.rs`, which replays saved crashers, so a
//! fixed crash stays fixed.

// Each target includes this file and uses one of its functions.
#![allow(dead_code)]

use burn::tensor::Device;
use model::bundle::{self, Manifest};
use model::preprocess::{self, Geometry, Normalization, Preparation};
use model::quality::{self, QualityThresholds};

/// Photo bytes as the CLI and the browser take them: decode, then every
/// preparation and the quality check. Errors are fine; panics are not.
pub fn photo(data: &[u8]) {
    let Ok(photo) = preprocess::decode(data) else { return };
    assert!(photo.width() > 0 && photo.height() > 0, "a decoded photo has pixels");
    for geometry in [Geometry::Crop, Geometry::Stretch] {
        let preparation =
            Preparation { geometry, normalization: Normalization::LITE, colour_constancy: true };
        let input = preparation.input(&photo, [33, 33]);
        assert_eq!(input.len(), 3 * 33 * 33);
        assert!(input.iter().all(|v| v.is_finite()), "inputs are finite");
    }
    let (measures, _) = quality::assess(&photo, &QualityThresholds::DEFAULT);
    assert!(measures.sharpness.is_finite());
}

/// Bundle pieces: the first byte picks a manifest, a weight file, or a
/// manifest and weight file loaded together (split at the first NUL).
pub fn bundle(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(manifest) = Manifest::from_json(text) {
                let _ = (manifest.preparation(), manifest.scaling(), manifest.binding());
                let again = Manifest::from_json(&manifest.to_json());
                assert!(again.is_ok(), "a manifest we write reads back: {again:?}");
            }
        }
        1 => {
            let Ok(decoded) = bundle::decode(rest, "fuzz.bin") else { return };
            let mut tensors = decoded.tensors;
            let _ = bundle::familiarity::take_from(&mut tensors);
            let _ = bundle::classifier_from(
                model::efficientnet::Variant::Lite0,
                7,
                tensors,
                mode & 4 != 0,
                &Device::flex(),
            );
        }
        _ => {
            let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let Ok(text) = std::str::from_utf8(&rest[..cut]) else { return };
            let weights = rest.get(cut + 1..).unwrap_or_default().to_vec();
            let _ = bundle::load(text, |_| Ok(weights.clone()), &Device::flex());
        }
    }
}
