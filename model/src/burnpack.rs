//! Burnpack weight files, burn's own format (the imported backbone and the
//! training checkpoints), written to and read from memory so the same code
//! serves files natively and fetched bytes in the browser.

use burn::store::{ApplyResult, BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum BurnpackError {
    #[error("not a readable weight file: {0}")]
    Format(String),
    #[error("the weights do not fit this network: {0}")]
    Mismatch(String),
}

/// Serialises every parameter and buffer of a module.
pub fn to_bytes<M: ModuleSnapshot>(module: &M) -> Result<Vec<u8>, BurnpackError> {
    let mut store = BurnpackStore::from_bytes(None);
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
