//! Reading tensors back to the host (native backends read synchronously).

use anyhow::{Result, anyhow};
use burn::tensor::Tensor;

/// All values of a tensor, row-major.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .map_err(|e| anyhow!("cannot read a tensor: {e:?}"))
}

/// The rows of a `[n, k]` tensor.
pub fn rows(tensor: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [_, k] = tensor.dims();
    Ok(values(tensor)?.chunks(k.max(1)).map(<[f32]>::to_vec).collect())
}
