//! Test-time augmentation: each member looks at several views of a photo
//! and its pooled features are averaged over them. Skin lesions have no
//! "up", so the eight symmetries of the square (flips and quarter turns)
//! are all equally valid views.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::efficientnet::pool;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tta {
    /// The photo alone.
    None,
    /// The photo and its horizontal, vertical and double flips.
    Flips,
    /// All eight symmetries of the square: the flips, and the same after a quarter turn.
    #[default]
    Dihedral,
}

impl Tta {
    /// How many views [`views`] makes.
    pub fn count(self) -> usize {
        match self {
            Self::None => 1,
            Self::Flips => 4,
            Self::Dihedral => 8,
        }
    }
}

/// The batch's views stacked after each other: `[count * batch, 3, h, w]`,
/// the plain images first. A quarter turn (transpose and flip) needs a
/// square input.
pub fn views(images: Tensor<4>, tta: Tta) -> Tensor<4> {
    let flips =
        |x: Tensor<4>| vec![x.clone(), x.clone().flip([3]), x.clone().flip([2]), x.flip([2, 3])];
    match tta {
        Tta::None => images,
        Tta::Flips => Tensor::cat(flips(images), 0),
        Tta::Dihedral => {
            let turned = images.clone().swap_dims(2, 3);
            let mut all = flips(images);
            all.extend(flips(turned));
            Tensor::cat(all, 0)
        }
    }
}

/// Mean over the views of `[views * batch, k]` values: `[batch, k]`.
pub fn mean_views(values: Tensor<2>, views: usize) -> Tensor<2> {
    let [n, k] = values.dims();
    values.reshape([views, n / views, k]).mean_dim(0).reshape([n / views, k])
}

/// Pooled features averaged over the views: `[batch, channels]`. The head
/// is linear, so its logits on these equal the mean of its logits per view.
pub fn pooled_mean(features: Tensor<4>, views: usize) -> Tensor<2> {
    mean_views(pool(features), views)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn image(values: Vec<f32>, side: usize) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, [1, 1, side, side]), &Device::flex())
    }

    #[test]
    fn views_are_the_symmetries_and_their_mean_is_taken() {
        let x = image((0..4).map(|v| v as f32).collect(), 2);
        let v = views(x.clone(), Tta::Flips);
        assert_eq!(v.dims(), [4, 1, 2, 2]);
        let flipped: Vec<f32> = v.clone().narrow(0, 1, 1).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(flipped, vec![1.0, 0.0, 3.0, 2.0], "a horizontal flip swaps the columns");
        let all = views(x, Tta::Dihedral);
        assert_eq!(all.dims(), [8, 1, 2, 2]);
        // The eight views of an asymmetric image are all different.
        let side = 3;
        let asymmetric =
            views(image((0..9).map(|v| (v * v) as f32).collect(), side), Tta::Dihedral);
        let rows: Vec<Vec<f32>> = (0..8)
            .map(|i| asymmetric.clone().narrow(0, i, 1).into_data().try_to_vec::<f32>().unwrap())
            .collect();
        for i in 0..8 {
            for j in i + 1..8 {
                assert_ne!(rows[i], rows[j], "views {i} and {j}");
            }
        }
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [4, 2]),
            &Device::flex(),
        );
        let mean: Vec<f32> = mean_views(logits, 2).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(mean, vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!([Tta::None, Tta::Flips, Tta::Dihedral].map(Tta::count), [1, 4, 8]);
    }
}
