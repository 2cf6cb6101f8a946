//! Running an ensemble's members over decoded photos: each photo prepared
//! once per input size, its test-time views stacked, the blocks all
//! members share run once, and each member's pooled features averaged over
//! the views. Shared by the CLI (batches of files) and the browser (one photo).

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::bundle::LoadedBundle;
use crate::classifier::Classifier;
use crate::preprocess::{self, Preparation};
use crate::tta::{self, Tta};

/// What the members need to look at photos the way they were trained to.
#[derive(Debug, Clone)]
pub struct Looking {
    /// Each member's input `[height, width]`.
    pub inputs: Vec<[u32; 2]>,
    pub preparation: Preparation,
    pub tta: Tta,
    /// Blocks (from the stem) identical in every member: run once for
    /// members that share an input size.
    pub shared_blocks: usize,
}

impl Looking {
    pub fn of(bundle: &LoadedBundle) -> Self {
        let manifest = &bundle.manifest;
        Self {
            inputs: manifest.members.iter().map(|m| m.input).collect(),
            preparation: manifest.preparation(),
            tta: manifest.tta,
            shared_blocks: manifest.shared_blocks,
        }
    }
}

/// One member's view of a batch of photos.
pub struct MemberOutput {
    /// Feature maps of every view, the plain photos first: `[views * n, channels, h, w]`.
    pub maps: Tensor<4>,
    /// Pooled features averaged over the views: `[n, channels]`.
    pub pooled: Tensor<2>,
    /// The head's logits on them: `[n, classes]`.
    pub logits: Tensor<2>,
}

/// Every member's output for `photos`, in member order.
pub fn run(
    members: &[Classifier],
    looking: &Looking,
    photos: &[RgbImage],
    device: &Device,
) -> Vec<MemberOutput> {
    let mut outputs: Vec<Option<MemberOutput>> = members.iter().map(|_| None).collect();
    // Members of one input size see the same prepared batch.
    let mut sizes: Vec<[u32; 2]> = looking.inputs.clone();
    sizes.dedup();
    sizes.sort_unstable();
    sizes.dedup();
    for size in sizes {
        let group: Vec<usize> = (0..members.len()).filter(|&m| looking.inputs[m] == size).collect();
        let prepared: Vec<Vec<f32>> =
            photos.iter().map(|p| looking.preparation.input(p, size)).collect();
        let batch = preprocess::batch(&prepared, [size[0] as usize, size[1] as usize], device);
        let input = tta::views(batch, looking.tta);
        let shared = if group.len() > 1 { looking.shared_blocks } else { 0 };
        let lower =
            (shared > 0).then(|| members[group[0]].backbone.forward_lower(input.clone(), shared));
        for &m in &group {
            let member = &members[m];
            let maps = match &lower {
                Some(lower) => member.backbone.forward_upper(lower.clone(), shared),
                None => member.backbone.feature_map(input.clone()),
            };
            let pooled = tta::pooled_mean(maps.clone(), looking.tta.count());
            let logits = member.head.forward(pooled.clone());
            outputs[m] = Some(MemberOutput { maps, pooled, logits });
        }
    }
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{Geometry, Normalization};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn shared_blocks_run_once_and_change_nothing_and_sizes_may_differ() {
        let device = Device::flex();
        let first = Classifier::new(crate::efficientnet::Variant::Lite0, 3, &device);
        // A second member with the same backbone and a head of its own.
        let mut second = first.clone();
        second.head =
            burn::nn::LinearConfig::new(crate::efficientnet::FEATURE_CHANNELS, 3).init(&device);
        let members = [first, second];
        let photos =
            vec![
                RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 100]));
                2
            ];
        let preparation = Preparation {
            geometry: Geometry::Crop,
            normalization: Normalization::LITE,
            colour_constancy: false,
        };
        let looking = |shared_blocks, inputs: Vec<[u32; 2]>| Looking {
            inputs,
            preparation,
            tta: Tta::Flips,
            shared_blocks,
        };
        let separate = run(&members, &looking(0, vec![[32, 32]; 2]), &photos, &device);
        let shared = run(&members, &looking(5, vec![[32, 32]; 2]), &photos, &device);
        for (a, b) in separate.into_iter().zip(shared) {
            assert_eq!(a.maps.dims(), [8, 1280, 1, 1], "4 views of 2 photos");
            let (a, b) = (values(a.logits), values(b.logits));
            let diff = a.iter().zip(&b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff < 1e-5, "{diff}");
        }
        let mixed = run(&members, &looking(5, vec![[64, 64], [32, 32]]), &photos, &device);
        assert_eq!(mixed[0].maps.dims(), [8, 1280, 2, 2]);
        assert_eq!(mixed[1].maps.dims(), [8, 1280, 1, 1]);
        assert_eq!(mixed[1].logits.dims(), [2, 3]);
    }
}
