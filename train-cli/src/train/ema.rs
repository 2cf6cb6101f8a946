//! An exponential moving average of a network's weights, BatchNorm running
//! statistics included, kept on the host beside the training loop. The
//! averaged network is the one validated each epoch and kept at the end:
//! it is steadier than the last weights, with no early stopping to pick.

use anyhow::{Result, bail};
use burn::tensor::Device;
use model::bundle::{Encoding, NamedTensor, classifier_from, decode, encode, tensors_of};
use model::classifier::Classifier;

#[derive(Debug, Clone, PartialEq)]
pub struct Ema {
    pub decay: f64,
    /// Updates so far.
    pub steps: u64,
    pub tensors: Vec<NamedTensor>,
}

impl Ema {
    pub fn new(decay: f64, classifier: &Classifier) -> Self {
        Self { decay, steps: 0, tensors: tensors_of(classifier) }
    }

    /// The decay of the next update: short at first, so the average does not
    /// drag the starting weights along (as timm's model EMA does).
    fn current_decay(&self) -> f64 {
        let t = self.steps as f64;
        self.decay.min((1.0 + t) / (10.0 + t))
    }

    /// Moves the average towards `classifier`'s current weights.
    pub fn update(&mut self, classifier: &Classifier) -> Result<()> {
        let d = self.current_decay() as f32;
        let now = tensors_of(classifier);
        if now.len() != self.tensors.len() {
            bail!("the network changed shape during training");
        }
        for (average, current) in self.tensors.iter_mut().zip(now) {
            if average.name != current.name || average.values.len() != current.values.len() {
                bail!("the network changed shape during training ({})", current.name);
            }
            for (a, c) in average.values.iter_mut().zip(current.values) {
                *a = d * *a + (1.0 - d) * c;
            }
        }
        self.steps += 1;
        Ok(())
    }

    /// The averaged network, shaped like `like` (its backbone and classes).
    pub fn classifier(&self, like: &Classifier, device: &Device) -> Result<Classifier> {
        let variant = like.backbone.variant();
        Ok(classifier_from(variant, like.num_classes(), self.tensors.clone(), false, device)?)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.decay.to_le_bytes().to_vec();
        out.extend_from_slice(&self.steps.to_le_bytes());
        out.extend(encode(&self.tensors, Encoding::F32, ""));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (Some(decay), Some(steps), Some(rest)) =
            (bytes.get(..8), bytes.get(8..16), bytes.get(16..))
        else {
            bail!("the weight average is truncated");
        };
        let decay = f64::from_le_bytes(decay.try_into()?);
        let steps = u64::from_le_bytes(steps.try_into()?);
        Ok(Self { decay, steps, tensors: decode(rest, "the weight average")?.tensors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::efficientnet::Variant;

    #[test]
    fn the_average_moves_towards_the_weights_and_round_trips() {
        let device = Device::flex();
        let a = Classifier::new(Variant::Lite0, 3, &device);
        let mut ema = Ema::new(0.9, &a);
        let start = ema.tensors.clone();
        let b = Classifier::new(Variant::Lite0, 3, &device);
        ema.update(&b).unwrap();
        // The first update's decay is 1/10: the average is mostly b.
        let target = tensors_of(&b);
        let (s, t, e) = (&start[0].values, &target[0].values, &ema.tensors[0].values);
        for i in 0..s.len().min(20) {
            assert!((e[i] - (0.1 * s[i] + 0.9 * t[i])).abs() < 1e-6);
        }
        assert_eq!(Ema::from_bytes(&ema.to_bytes()).unwrap(), ema);
        assert!(Ema::from_bytes(&ema.to_bytes()[..10]).is_err());
        assert!(ema.classifier(&a, &device).is_ok());
        assert_eq!(ema.current_decay(), 0.9f64.min(2.0 / 11.0));
    }
}
