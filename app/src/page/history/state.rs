//! The history's shared state: whether it is on, the stored entries, the
//! spot on show and the last action's outcome; and the actions on the
//! store (reload, export, import, remove, delete everything).

use leptos::prelude::*;
use web_sys::{Blob, BlobPropertyBag, HtmlInputElement};

use super::super::report::{download, file_date};
use super::super::state::Message;
use super::super::store::{self, Entry, Export};
use super::file::read_text;

/// Shared by the save form in the result and the history section.
#[derive(Clone, Copy)]
pub struct HistoryState {
    pub enabled: RwSignal<bool>,
    pub entries: RwSignal<Vec<Entry>>,
    /// The spot shown in the history section.
    pub spot: RwSignal<String>,
    /// The last outcome of an action (saved, exported, deleted, failed).
    pub notice: RwSignal<Option<(bool, Message)>>,
}

impl Default for HistoryState {
    fn default() -> Self {
        Self::new()
    }
}

impl HistoryState {
    pub fn new() -> Self {
        Self {
            enabled: RwSignal::new(store::enabled()),
            entries: RwSignal::new(Vec::new()),
            spot: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
        }
    }

    /// Reads the stored entries again.
    pub fn reload(self) {
        if !self.enabled.get_untracked() {
            self.entries.set(Vec::new());
            return;
        }
        wasm_bindgen_futures::spawn_local(async move {
            match store::all().await {
                Ok(entries) => {
                    let spot = self.spot.get_untracked();
                    if !entries.iter().any(|e| e.spot == spot) {
                        let latest = entries.last().map(|e| e.spot.clone()).unwrap_or_default();
                        self.spot.set(latest);
                    }
                    self.entries.set(entries);
                }
                Err(e) => self.fail(e),
            }
        });
    }

    pub fn fail(self, detail: String) {
        self.notice.set(Some((false, Message::new("history.failed").with("detail", detail))));
    }

    /// The spots' names, most recently used first.
    pub fn spots(&self) -> Vec<String> {
        let mut spots: Vec<String> = Vec::new();
        for entry in self.entries.get().iter().rev() {
            if !spots.contains(&entry.spot) {
                spots.push(entry.spot.clone());
            }
        }
        spots
    }

    pub fn enable(self) {
        store::set_enabled(true);
        self.enabled.set(true);
        self.notice.set(None);
        self.reload();
    }

    /// Downloads every entry as one JSON file.
    pub fn export(self) {
        let entries = self.entries.get_untracked();
        let text = serde_json::to_string(&Export::new(entries)).unwrap_or_default();
        let options = BlobPropertyBag::new();
        options.set_type("application/json");
        let parts = js_sys::Array::of1(&text.into());
        let outcome = Blob::new_with_str_sequence_and_options(&parts, &options)
            .map_err(|e| format!("{e:?}"))
            .and_then(|blob| {
                download(
                    &blob,
                    &format!("dermlens-history-{}.json", file_date(js_sys::Date::now())),
                )
            });
        match outcome {
            Ok(()) => self.notice.set(Some((true, Message::new("history.exported")))),
            Err(e) => self.fail(e),
        }
    }

    /// Adds the entries of the export file chosen in `input` (never over a stored one).
    pub fn import(self, input: HtmlInputElement) {
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = async {
                let Some(text) = read_text(&input).await? else { return Ok(0) };
                let entries = Export::parse(&text)?;
                let (entries, _already) = store::merge_import(&store::all().await?, entries);
                store::put(&entries).await?;
                Ok::<usize, String>(entries.len())
            }
            .await;
            input.set_value("");
            match outcome {
                Ok(n) => {
                    let message = Message::new("history.imported").with("n", n.to_string());
                    self.notice.set(Some((true, message)));
                    self.reload();
                }
                Err(e) => self.fail(e),
            }
        });
    }

    /// Deletes the whole store and turns the history off.
    pub fn delete_everything(self) {
        wasm_bindgen_futures::spawn_local(async move {
            match store::delete_everything().await {
                Ok(()) => {
                    self.enabled.set(false);
                    self.entries.set(Vec::new());
                    self.spot.set(String::new());
                    self.notice.set(Some((true, Message::new("history.deleted"))));
                }
                Err(e) => self.fail(e),
            }
        });
    }

    pub fn remove(self, id: f64) {
        wasm_bindgen_futures::spawn_local(async move {
            match store::remove(id).await {
                Ok(()) => self.reload(),
                Err(e) => self.fail(e),
            }
        });
    }
}
