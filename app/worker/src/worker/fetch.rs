//! Fetching bundle files from the worker, chunk by chunk, so the page can
//! show a progress bar.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response, WorkerGlobalScope};

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| js_sys::JSON::stringify(&error).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}

/// The bytes at `url`, at most `limit` of them (a server that sends more is
/// refused as soon as it has, before the rest is held in memory); `on_chunk`
/// hears the size of every chunk received.
pub async fn fetch_bytes(
    url: &str,
    limit: u64,
    on_chunk: &mut dyn FnMut(u64),
) -> Result<Vec<u8>, String> {
    let too_large = || format!("{url} is larger than the {limit} bytes expected: not loaded");
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| format!("cannot fetch {url}: {}", describe(e)))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("cannot fetch {url}: the server answered {}", response.status()));
    }
    let declared = response.headers().get("content-length").ok().flatten();
    if declared.and_then(|d| d.trim().parse::<u64>().ok()).is_some_and(|d| d > limit) {
        return Err(too_large());
    }
    let Some(body) = response.body() else { return Ok(Vec::new()) };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("reading {url} failed: {}", describe(e)))?;
        if Reflect::get(&chunk, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array =
            Reflect::get(&chunk, &"value".into()).map_err(describe)?.unchecked_into();
        let start = bytes.len();
        if (start + value.length() as usize) as u64 > limit {
            let _ = reader.cancel();
            return Err(too_large());
        }
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        on_chunk(value.length() as u64);
    }
    Ok(bytes)
}
