//! The worker's own cache of weight files (Cache Storage), so that the model
//! is downloaded once: the worker fetches each file, checks its sha256
//! against the manifest and only then keeps it. A kept file is checked
//! again before use; a damaged one is thrown away and fetched anew. The
//! cache is named after the manifest's digest, so a new model gets a new
//! cache and the old one is removed once the new model has loaded.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, Response, WorkerGlobalScope};

use app::protocol::MODEL_CACHE_PREFIX;

/// Cache Storage, where the browser offers it (not in every private mode).
fn storage() -> Option<CacheStorage> {
    js_sys::global().dyn_into::<WorkerGlobalScope>().ok()?.caches().ok()
}

pub struct WeightCache {
    cache: Option<Cache>,
}

impl WeightCache {
    /// The cache called `name`; without Cache Storage, one that keeps nothing.
    pub async fn open(name: &str) -> Self {
        let cache = match storage() {
            Some(storage) => JsFuture::from(storage.open(name))
                .await
                .ok()
                .and_then(|c| c.dyn_into::<Cache>().ok()),
            None => None,
        };
        if cache.is_none() {
            web_sys::console::info_1(
                &"dermlens: no Cache Storage here; the model will be downloaded on every visit"
                    .into(),
            );
        }
        Self { cache }
    }

    /// The kept bytes for `url`, if any.
    pub async fn get(&self, url: &str) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        let hit = JsFuture::from(cache.match_with_str(url)).await.ok()?;
        let response = hit.dyn_into::<Response>().ok()?;
        let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
        Some(Uint8Array::new(&buffer).to_vec())
    }

    /// Keeps `bytes` (already verified) for `url`. A full disk only costs a
    /// later download, so failures are reported, not fatal.
    pub async fn put(&self, url: &str, bytes: &[u8]) {
        let Some(cache) = &self.cache else { return };
        let body = Uint8Array::from(bytes);
        let stored = match Response::new_with_opt_buffer_source(Some(&body)) {
            Ok(response) => JsFuture::from(cache.put_with_str(url, &response)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            web_sys::console::warn_2(&format!("dermlens: could not keep {url}").into(), &e);
        }
    }

    pub async fn delete(&self, url: &str) {
        if let Some(cache) = &self.cache {
            let _ = JsFuture::from(cache.delete_with_str(url)).await;
        }
    }
}

/// Removes the weight caches of every other model than `keep`.
pub async fn evict_other_models(keep: &str) {
    let Some(storage) = storage() else { return };
    let Ok(keys) = JsFuture::from(storage.keys()).await else { return };
    for name in Array::from(&keys).iter().filter_map(|k: JsValue| k.as_string()) {
        if name.starts_with(MODEL_CACHE_PREFIX)
            && name != keep
            && JsFuture::from(storage.delete(&name)).await.is_ok()
        {
            web_sys::console::info_1(&format!("dermlens: removed old weights ({name})").into());
        }
    }
}
