//! The spot history's storage: IndexedDB in this browser, on this device
//! only, and only after the person turned it on. Each entry is one saved
//! result (its photo as a JPEG data URL, the probabilities, the date); the
//! whole history exports to one JSON file and imports from it.

use js_sys::{Array, Object, Promise, Reflect};
use model::classes::LesionClass;
use model::quality::QualityIssue;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbObjectStore, IdbObjectStoreParameters, IdbRequest, IdbTransaction,
    IdbTransactionMode,
};

/// The IndexedDB database (removed whole by "delete everything").
pub const DB_NAME: &str = "dermlens-history";
const STORE: &str = "entries";
/// The `localStorage` key that records the opt-in.
const OPT_IN: &str = "dermlens.history";
/// The export file's format name.
pub const EXPORT_FORMAT: &str = "dermlens-history";

/// One saved result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique key: the time of saving in milliseconds.
    pub id: f64,
    /// The spot's name, e.g. "left shoulder".
    pub spot: String,
    /// The photo, shown size, as a `data:image/jpeg` URL.
    pub photo: String,
    pub classes: Vec<LesionClass>,
    pub probabilities: Vec<f32>,
    /// Per class, the lowest and highest member probability.
    pub ranges: Vec<[f32; 2]>,
    pub malignant: f32,
    pub top: usize,
    pub uncertain: bool,
    pub unfamiliar: bool,
    pub issues: Vec<QualityIssue>,
    /// The model's id and the app's version that gave this result.
    pub model: String,
    pub app: String,
}

/// Largest history file imported: far above any real history (a saved
/// photo is a small JPEG), low enough that a wrong file cannot exhaust the
/// page's memory.
pub const MAX_IMPORT_BYTES: f64 = 100_000_000.0;

/// What an import adds to the `stored` entries: an entry already stored
/// as it is is skipped (importing a file twice changes nothing), and one
/// whose id another stored entry holds gets a fresh id, so an import never
/// replaces a stored result. Returns the entries to store and how many
/// were already there.
pub fn merge_import(stored: &[Entry], imported: Vec<Entry>) -> (Vec<Entry>, usize) {
    let mut taken: Vec<f64> = stored.iter().map(|e| e.id).collect();
    let mut next = taken.iter().copied().fold(0.0, f64::max) + 1.0;
    let (mut add, mut already) = (Vec::new(), 0);
    for mut entry in imported {
        if stored.contains(&entry) || add.contains(&entry) {
            already += 1;
            continue;
        }
        if taken.contains(&entry.id) {
            next = next.max(entry.id + 1.0);
            entry.id = next;
            next += 1.0;
        }
        taken.push(entry.id);
        add.push(entry);
    }
    (add, already)
}

/// The export file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    /// When it was written, in milliseconds since 1970.
    pub exported: f64,
    pub entries: Vec<Entry>,
}

impl Export {
    pub fn new(entries: Vec<Entry>) -> Self {
        Self { format: EXPORT_FORMAT.into(), version: 1, exported: js_sys::Date::now(), entries }
    }

    /// Reads an export file; only well-formed entries with an image photo are accepted.
    pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
        let export: Export = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if export.format != EXPORT_FORMAT || export.version != 1 {
            return Err(format!("not a {EXPORT_FORMAT} file of version 1"));
        }
        let bad = export.entries.iter().find(|e| {
            !e.photo.starts_with("data:image/")
                || e.probabilities.len() != e.classes.len()
                || e.spot.trim().is_empty()
        });
        if let Some(entry) = bad {
            return Err(format!("the entry of {} is damaged", entry.spot));
        }
        Ok(export.entries)
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Whether the person turned the history on.
pub fn enabled() -> bool {
    storage().and_then(|s| s.get_item(OPT_IN).ok().flatten()).is_some_and(|v| v == "on")
}

pub fn set_enabled(on: bool) {
    if let Some(s) = storage() {
        let _ = if on { s.set_item(OPT_IN, "on") } else { s.remove_item(OPT_IN) };
    }
}

fn describe(e: JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .or_else(|| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Waits for an IndexedDB request; its result.
async fn finished(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let req = request.clone();
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::UNDEFINED, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let req = request.clone();
        let failed = Closure::once_into_js(move |_: web_sys::Event| {
            let message = req
                .error()
                .ok()
                .flatten()
                .map(|e| e.message())
                .unwrap_or_else(|| "the browser refused".into());
            let _ = reject.call1(&JsValue::UNDEFINED, &message.into());
        });
        request.set_onsuccess(Some(ok.unchecked_ref()));
        request.set_onerror(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(describe)
}

/// Waits for a transaction to be committed.
async fn committed(transaction: &IdbTransaction) -> Result<(), String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            let _ = reject.call1(&JsValue::UNDEFINED, &"the browser did not store it".into());
        })
        .into_js_value();
        transaction.set_oncomplete(Some(ok.unchecked_ref()));
        transaction.set_onerror(Some(failed.unchecked_ref()));
        transaction.set_onabort(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise).await.map(|_| ()).map_err(describe)
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("this browser offers no IndexedDB")?;
    let request = factory.open_with_u32(DB_NAME, 1).map_err(describe)?;
    let upgrade_request = request.clone();
    let upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        if let Ok(db) = upgrade_request.result().and_then(|d| d.dyn_into::<IdbDatabase>()) {
            let params = IdbObjectStoreParameters::new();
            params.set_key_path(&"id".into());
            let _ = db.create_object_store_with_optional_parameters(STORE, &params);
        }
    });
    request.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    finished(&request).await?.dyn_into::<IdbDatabase>().map_err(describe)
}

/// Every saved entry, oldest first.
pub async fn all() -> Result<Vec<Entry>, String> {
    let db = open().await?;
    let result = async {
        let transaction = db.transaction_with_str(STORE).map_err(describe)?;
        let store = transaction.object_store(STORE).map_err(describe)?;
        let rows = finished(&store.get_all().map_err(describe)?).await?;
        let mut entries: Vec<Entry> = Array::from(&rows)
            .iter()
            .filter_map(|row| Reflect::get(&row, &"json".into()).ok()?.as_string())
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect();
        entries.sort_by(|a: &Entry, b| a.id.total_cmp(&b.id));
        Ok(entries)
    }
    .await;
    db.close();
    result
}

/// A read-write transaction on the entries and their store.
fn writing(db: &IdbDatabase) -> Result<(IdbTransaction, IdbObjectStore), String> {
    let transaction =
        db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    Ok((transaction, store))
}

/// Stores `entries` (replacing any with the same id).
pub async fn put(entries: &[Entry]) -> Result<(), String> {
    let db = open().await?;
    let result = async {
        let (transaction, store) = writing(&db)?;
        for entry in entries {
            let row = Object::new();
            let json = serde_json::to_string(entry).map_err(|e| e.to_string())?;
            let _ = Reflect::set(&row, &"id".into(), &entry.id.into());
            let _ = Reflect::set(&row, &"spot".into(), &entry.spot.as_str().into());
            let _ = Reflect::set(&row, &"json".into(), &json.into());
            store.put(&row).map_err(describe)?;
        }
        committed(&transaction).await
    }
    .await;
    db.close();
    result
}

/// Removes one entry.
pub async fn remove(id: f64) -> Result<(), String> {
    let db = open().await?;
    let result = async {
        let (transaction, store) = writing(&db)?;
        store.delete(&id.into()).map_err(describe)?;
        committed(&transaction).await
    }
    .await;
    db.close();
    result
}

/// Deletes the whole database and the opt-in: nothing of the history is left.
pub async fn delete_everything() -> Result<(), String> {
    set_enabled(false);
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("this browser offers no IndexedDB")?;
    let request = factory.delete_database(DB_NAME).map_err(describe)?;
    finished(&request).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn entry(id: f64, spot: &str) -> Entry {
        Entry {
            id,
            spot: spot.into(),
            photo: "data:image/jpeg;base64,".into(),
            classes: Vec::new(),
            probabilities: Vec::new(),
            ranges: Vec::new(),
            malignant: 0.1,
            top: 0,
            uncertain: false,
            unfamiliar: false,
            issues: Vec::new(),
            model: "m".into(),
            app: "a".into(),
        }
    }

    #[wasm_bindgen_test]
    fn an_import_never_replaces_a_stored_result() {
        let stored = vec![entry(10.0, "arm"), entry(20.0, "back")];
        let imported = vec![entry(10.0, "arm"), entry(20.0, "leg"), entry(30.0, "leg")];
        let (add, already) = merge_import(&stored, imported);
        assert_eq!(already, 1, "the identical entry is skipped");
        assert_eq!(add.len(), 2);
        let moved = add.iter().find(|e| e.spot == "leg" && e.id != 30.0).unwrap();
        assert!(![10.0, 20.0, 30.0].contains(&moved.id), "a fresh id: {}", moved.id);
        let (again, already) = merge_import(&[stored, add.clone()].concat(), add);
        assert!(again.is_empty() && already == 2, "importing twice changes nothing");
    }
}
