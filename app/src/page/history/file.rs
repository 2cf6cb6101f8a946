//! Reading the history file the person chose, within its size limit.

use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use super::super::store;

pub async fn read_text(input: &HtmlInputElement) -> Result<Option<String>, String> {
    let Some(file) = input.files().and_then(|f| f.get(0)) else { return Ok(None) };
    if file.size() > store::MAX_IMPORT_BYTES {
        return Err(format!(
            "{} is larger than {} MB: not a dermlens history file",
            file.name(),
            store::MAX_IMPORT_BYTES / 1e6
        ));
    }
    let text = JsFuture::from(file.text())
        .await
        .map_err(|_| format!("{} could not be read", file.name()))?;
    Ok(text.as_string())
}
