//! Burnpack weight files, burn's own format (the imported backbone and the
//! training checkpoints), written to and read from memory so the same code
//! serves files natively and fetched bytes in the browser.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{ApplyResult, BurnpackStore, ModuleAdapter, ModuleContext, ModuleSnapshot};
use burn::tensor::{Bytes, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum BurnpackError {
    #[error("not a readable weight file: {0}")]
    Format(String),
    #[error("the weights do not fit this network: {0}")]
    Mismatch(String),
}

/// Gives every parameter an id made from its path in the module, instead of
/// a random one: the same weights then serialise to the same bytes (a cache
/// keyed by a backbone's checksum stays valid when it is imported again),
/// and a module rebuilt from a checkpoint has the ids the optimizer state
/// was saved under. Call it on a module before training or saving it.
pub fn with_stable_ids<M: Module>(module: M) -> M {
    struct Stable {
        path: Vec<String>,
    }
    impl ModuleMapper for Stable {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }

        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }

        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (_, value, mapper) = param.consume();
            // The mapper keeps whether the parameter is trained.
            Param::from_mapped_value(
                ParamId::from(crate::rng::stable_hash(&self.path.join("."))),
                value,
                mapper,
            )
        }
    }
    module.map(&mut Stable { path: Vec::new() })
}

/// Writes every tensor (BatchNorm statistics too, which have ids of their
/// own) under its stable id.
#[derive(Clone)]
struct StableIdsOnSave;

impl ModuleAdapter for StableIdsOnSave {
    fn adapt(&self, mut tensor: PackTensor, _ctx: ModuleContext<'_>) -> PackTensor {
        tensor.param_id = Some(crate::rng::stable_hash(&tensor.name));
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// Serialises every parameter and buffer of a module, with stable ids (so
/// equal weights give equal bytes).
pub fn to_bytes<M: Module>(module: &M) -> Result<Vec<u8>, BurnpackError> {
    let mut store = BurnpackStore::from_bytes(None).with_to_adapter(StableIdsOnSave);
    module.save_into(&mut store).map_err(|e| BurnpackError::Format(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| BurnpackError::Format(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Loads weights into a module of the same architecture. Every tensor of the
/// module must be present with the right shape, and the file must hold no
/// tensor the module lacks.
pub fn load<M: ModuleSnapshot>(mut module: M, bytes: Vec<u8>) -> Result<M, BurnpackError> {
    let mut store =
        BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes))).allow_partial(true);
    let result = module.load_from(&mut store).map_err(|e| BurnpackError::Format(e.to_string()))?;
    check_complete(&result)?;
    Ok(module)
}

/// Turns an incomplete or inconsistent load into an error naming the first few problems.
pub fn check_complete(result: &ApplyResult) -> Result<(), BurnpackError> {
    let mut problems: Vec<String> = Vec::new();
    problems.extend(result.errors.iter().map(|e| e.to_string()));
    problems.extend(result.missing.iter().map(|(path, _)| format!("missing tensor '{path}'")));
    problems.extend(result.unused.iter().map(|path| format!("unexpected tensor '{path}'")));
    if problems.is_empty() {
        return Ok(());
    }
    let total = problems.len();
    problems.truncate(5);
    let more = if total > 5 { format!(" (and {} more)", total - 5) } else { String::new() };
    Err(BurnpackError::Mismatch(format!("{}{more}", problems.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::Classifier;
    use burn::tensor::Device;

    #[test]
    fn stable_ids_make_the_same_weights_the_same_bytes() {
        let device = Device::flex();
        let a = with_stable_ids(Classifier::new(crate::efficientnet::Variant::Lite0, 3, &device));
        let bytes = to_bytes(&a).unwrap();
        // Another network, its own random ids, loaded with a's weights.
        let b = with_stable_ids(
            load(Classifier::new(crate::efficientnet::Variant::Lite0, 3, &device), bytes.clone())
                .unwrap(),
        );
        assert_eq!(to_bytes(&b).unwrap(), bytes);
        let c = load(
            with_stable_ids(Classifier::new(crate::efficientnet::Variant::Lite0, 3, &device)),
            bytes.clone(),
        )
        .unwrap();
        assert_eq!(to_bytes(&c).unwrap(), bytes);
        // In memory, a parameter's id is the one it is saved under.
        for t in c.collect(None, None, false) {
            if let Some(id) = t.param_id
                && !t.name.contains("running")
            {
                assert_eq!(id, crate::rng::stable_hash(&t.name), "{}", t.name);
            }
        }
    }
}
