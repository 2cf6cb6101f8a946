//! Following a spot over time, on this device only: results saved to a
//! named spot, that spot's photos side by side with their results and
//! dates, and what changed between two of them. Off until the person turns
//! it on; kept in this browser's IndexedDB ([`super::store`]); exported to
//! and imported from one JSON file; deleted whole with one button.

use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, HtmlCanvasElement, HtmlInputElement};

use super::heatmap::{context_2d, image_data};
use super::report::{date_short, date_time, download, file_date};
use super::state::{APP_VERSION, Message, Shown, State};
use super::store::{self, Entry, Export};
use crate::i18n::Locale;

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

    fn fail(self, detail: String) {
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
}

/// The shown photo as a JPEG data URL (the form it is kept in).
fn photo_url(shown: &Shown) -> Result<String, String> {
    let canvas: HtmlCanvasElement = document()
        .create_element("canvas")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "no canvas".to_string())?;
    canvas.set_width(shown.photo.width());
    canvas.set_height(shown.photo.height());
    context_2d(&canvas)?
        .put_image_data(&image_data(&shown.photo)?, 0.0, 0.0)
        .map_err(|e| format!("{e:?}"))?;
    canvas
        .to_data_url_with_type_and_encoder_options("image/jpeg", &JsValue::from_f64(0.88))
        .map_err(|e| format!("{e:?}"))
}

fn entry_of(shown: &Shown, spot: &str) -> Result<Entry, String> {
    let prediction = &shown.reply.analysis.prediction;
    Ok(Entry {
        id: js_sys::Date::now(),
        spot: spot.trim().to_string(),
        photo: photo_url(shown)?,
        classes: shown.model.classes.clone(),
        probabilities: prediction.probabilities.clone(),
        ranges: shown.reply.guidance.ranges.clone(),
        malignant: prediction.malignant,
        top: prediction.top,
        uncertain: prediction.uncertain,
        unfamiliar: prediction.unfamiliar,
        issues: shown.reply.analysis.issues.clone(),
        model: shown.model.info.id.clone(),
        app: APP_VERSION.into(),
    })
}

/// Under a result: save it to a named spot (or how to turn the history on).
#[component]
pub fn SaveToSpot(shown: Arc<Shown>) -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    let name = RwSignal::new(history.spot.get_untracked());
    let saved = RwSignal::new(None::<String>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let spot = name.get_untracked().trim().to_string();
        if spot.is_empty() {
            history.notice.set(Some((false, Message::new("history.name_needed"))));
            return;
        }
        let entry = match entry_of(&shown, &spot) {
            Ok(entry) => entry,
            Err(e) => return history.fail(e),
        };
        wasm_bindgen_futures::spawn_local(async move {
            match store::put(std::slice::from_ref(&entry)).await {
                Ok(()) => {
                    saved.set(Some(spot.clone()));
                    history.spot.set(spot);
                    history.reload();
                }
                Err(e) => history.fail(e),
            }
        });
    };
    move || {
        if !history.enabled.get() {
            return view! {
                <p class="save-hint no-print" data-test="save-hint">
                    {state.t("history.save_hint")} " "
                    <a href="#history">{state.t("history.save_hint_link")}</a>
                </p>
            }
            .into_any();
        }
        let spots = history.spots();
        view! {
            <form class="save no-print" on:submit=save.clone() data-test="save-form">
                <label for="spot-name">{state.t("history.spot_label")}</label>
                <div class="save-row">
                    <input
                        id="spot-name"
                        type="text"
                        list="spot-names"
                        maxlength="80"
                        autocomplete="off"
                        data-test="spot-name"
                        placeholder=move || state.t("history.spot_placeholder")
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <datalist id="spot-names">
                        {spots.into_iter().map(|s| view! { <option value=s></option> }).collect_view()}
                    </datalist>
                    <button type="submit" data-test="save-spot">{state.t("history.save")}</button>
                </div>
                {move || saved.get().map(|spot| view! {
                    <p class="saved" role="status" data-test="saved">{state.tf("history.saved", &[("spot", &spot)])}</p>
                })}
            </form>
        }
        .into_any()
    }
}

fn class_label(l: &Locale, entry: &Entry, c: usize) -> String {
    entry.classes.get(c).map(|k| l.class_name(k)).unwrap_or_default()
}

/// The change from `before` to `after` in whole percentage points.
fn change(l: &Locale, before: f32, after: f32) -> String {
    let points = ((after - before) * 100.0).round() as i32;
    match points {
        0 => l.text("history.no_change"),
        p if p > 0 => l.format("history.up", &[("n", &p.to_string())]),
        p => l.format("history.down", &[("n", &(-p).to_string())]),
    }
}

#[component]
fn Compare(earlier: Entry, later: Entry) -> impl IntoView {
    let state = expect_context::<State>();
    let fade = RwSignal::new(0.5f32);
    move || {
        let l = state.lang.get();
        let same_classes = earlier.classes == later.classes;
        let rows = if same_classes {
            let mut order: Vec<usize> = (0..later.probabilities.len()).collect();
            order.sort_by(|&a, &b| later.probabilities[b].total_cmp(&later.probabilities[a]));
            order
                .into_iter()
                .map(|c| {
                    let (b, a) = (earlier.probabilities[c], later.probabilities[c]);
                    let malignant = later.classes.get(c).is_some_and(|k| k.malignant);
                    let mut name = class_label(l, &later, c);
                    if malignant {
                        name = format!("{name} ({})", l.text("result.malignant_tag"));
                    }
                    view! {
                        <tr data-test="compare-row">
                            <th scope="row">{name}</th>
                            <td>{l.share(b)}</td>
                            <td>{l.share(a)}</td>
                            <td class="change">{change(l, b, a)}</td>
                        </tr>
                    }
                })
                .collect_view()
                .into_any()
        } else {
            view! { <tr><td colspan="4">{l.text("history.different_models")}</td></tr> }.into_any()
        };
        let (before, after) = (date_time(l, earlier.id), date_time(l, later.id));
        let (before_day, after_day) = (date_short(l, earlier.id), date_short(l, later.id));
        view! {
            <div class="compare" data-test="compare">
                <h3>{l.text("history.compare_heading")}</h3>
                <div class="pair">
                    <figure>
                        <img src=earlier.photo.clone() alt=l.format("history.photo_alt", &[("date", &before)])/>
                        <figcaption>{before.clone()}</figcaption>
                    </figure>
                    <figure>
                        <img src=later.photo.clone() alt=l.format("history.photo_alt", &[("date", &after)])/>
                        <figcaption>{after.clone()}</figcaption>
                    </figure>
                </div>
                <div class="fade" aria-hidden="true">
                    <img src=earlier.photo.clone() alt=""/>
                    <img class="over" src=later.photo.clone() alt="" style:opacity=move || fade.get().to_string()/>
                </div>
                <label class="fade-control">
                    <span>{l.text("history.fade")}</span>
                    <input type="range" min="0" max="1" step="0.05" data-test="fade"
                        prop:value=move || fade.get().to_string()
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                                fade.set(v);
                            }
                        }
                    />
                </label>
                <div class="table-wrap" tabindex="0" role="region" aria-label=l.text("history.compare_heading")>
                    <table data-test="compare-table">
                        <caption class="visually-hidden">{l.text("history.compare_heading")}</caption>
                        <thead>
                            <tr>
                                <th scope="col">{l.text("history.class")}</th>
                                <th scope="col">{before_day}</th>
                                <th scope="col">{after_day}</th>
                                <th scope="col">{l.text("history.change")}</th>
                            </tr>
                        </thead>
                        <tbody>
                            <tr class="malignant-share" data-test="compare-malignant">
                                <th scope="row">{l.text("history.malignant_share")}</th>
                                <td>{l.share(earlier.malignant)}</td>
                                <td>{l.share(later.malignant)}</td>
                                <td class="change">{change(l, earlier.malignant, later.malignant)}</td>
                            </tr>
                            {rows}
                        </tbody>
                    </table>
                </div>
                <p class="note">{l.text("history.compare_note")}</p>
            </div>
        }
    }
}

async fn read_text(input: &HtmlInputElement) -> Result<Option<String>, String> {
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

#[component]
pub fn History() -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    let confirming = RwSignal::new(false);
    // Which two of the spot's entries are compared (ids); the first and the last by default.
    let pick_earlier = RwSignal::new(None::<f64>);
    let pick_later = RwSignal::new(None::<f64>);
    Effect::new(move |_| {
        history.spot.track();
        pick_earlier.set(None);
        pick_later.set(None);
    });
    let enable = move |_| {
        store::set_enabled(true);
        history.enabled.set(true);
        history.notice.set(None);
        history.reload();
    };
    let export = move |_| {
        let entries = history.entries.get_untracked();
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
            Ok(()) => history.notice.set(Some((true, Message::new("history.exported")))),
            Err(e) => history.fail(e),
        }
    };
    let import = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
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
                    history.notice.set(Some((
                        true,
                        Message::new("history.imported").with("n", n.to_string()),
                    )));
                    history.reload();
                }
                Err(e) => history.fail(e),
            }
        });
    };
    let delete_all = move |_| {
        confirming.set(false);
        wasm_bindgen_futures::spawn_local(async move {
            match store::delete_everything().await {
                Ok(()) => {
                    history.enabled.set(false);
                    history.entries.set(Vec::new());
                    history.spot.set(String::new());
                    history.notice.set(Some((true, Message::new("history.deleted"))));
                }
                Err(e) => history.fail(e),
            }
        });
    };
    let remove = move |id: f64| {
        wasm_bindgen_futures::spawn_local(async move {
            match store::remove(id).await {
                Ok(()) => history.reload(),
                Err(e) => history.fail(e),
            }
        });
    };
    history.reload();

    let body = move || {
        let l = state.lang.get();
        if !history.enabled.get() {
            return view! {
                <p>{l.text("history.off")}</p>
                <button type="button" data-test="history-enable" on:click=enable>{l.text("history.enable")}</button>
            }
            .into_any();
        }
        let spots = history.spots();
        let spot = history.spot.get();
        let entries: Vec<Entry> =
            history.entries.get().into_iter().filter(|e| e.spot == spot).collect();
        let list = entries
            .iter()
            .map(|entry| {
                let id = entry.id;
                let date = date_time(l, entry.id);
                let top = entry.probabilities.get(entry.top).copied().unwrap_or(0.0);
                let summary = l.format(
                    "history.entry_summary",
                    &[("class", &class_label(l, entry, entry.top)), ("probability", &l.share(top)), ("malignant", &l.share(entry.malignant))],
                );
                view! {
                    <li class="entry" data-test="history-entry">
                        <img src=entry.photo.clone() alt=l.format("history.photo_alt", &[("date", &date)])/>
                        <div>
                            <p class="date">{date.clone()}</p>
                            <p>
                                {summary}
                                {entry.uncertain.then(|| view! { <span class="badge">{l.text("result.uncertain")}</span> })}
                            </p>
                            <button type="button" class="link" on:click=move |_| remove(id)
                                aria-label=l.format("history.remove_label", &[("date", &date)])>
                                {l.text("history.remove")}
                            </button>
                        </div>
                    </li>
                }
            })
            .collect_view();
        let options = |picked: RwSignal<Option<f64>>, default: f64| {
            entries
                .iter()
                .map(|e| {
                    let id = e.id;
                    view! { <option value=id.to_string() selected=move || picked.get().unwrap_or(default) == id>{date_time(l, e.id)}</option> }
                })
                .collect_view()
        };
        let compare = (entries.len() >= 2).then(|| {
            let first = entries[0].id;
            let last = entries[entries.len() - 1].id;
            let find = |id: f64| entries.iter().find(|e| e.id == id).cloned();
            let earlier = find(pick_earlier.get().unwrap_or(first));
            let later = find(pick_later.get().unwrap_or(last));
            view! {
                <div class="pickers">
                    <label>
                        <span>{l.text("history.earlier")}</span>
                        <select data-test="compare-earlier" on:change=move |ev| pick_earlier.set(event_target_value(&ev).parse().ok())>
                            {options(pick_earlier, first)}
                        </select>
                    </label>
                    <label>
                        <span>{l.text("history.later")}</span>
                        <select data-test="compare-later" on:change=move |ev| pick_later.set(event_target_value(&ev).parse().ok())>
                            {options(pick_later, last)}
                        </select>
                    </label>
                </div>
                {match (earlier, later) {
                    (Some(a), Some(b)) => view! { <Compare earlier=a later=b/> }.into_any(),
                    _ => ().into_any(),
                }}
            }
        });
        view! {
            {if spots.is_empty() {
                view! { <p data-test="history-empty">{l.text("history.empty")}</p> }.into_any()
            } else {
                view! {
                    <label class="spot-picker">
                        <span>{l.text("history.spot_choose")}</span>
                        <select data-test="spot-select" on:change=move |ev| history.spot.set(event_target_value(&ev))>
                            {spots
                                .iter()
                                .map(|s| {
                                    let s = s.clone();
                                    let count = history.entries.get().iter().filter(|e| e.spot == s).count();
                                    let label = l.format("history.spot_option", &[("spot", &s), ("n", &count.to_string())]);
                                    let selected = s == spot;
                                    view! { <option value=s selected=selected>{label}</option> }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <ul class="entries">{list}</ul>
                    {compare}
                }
                .into_any()
            }}
            <div class="buttons">
                <button type="button" class="secondary" data-test="history-export" on:click=export>{l.text("history.export")}</button>
                <label class="file-button secondary" data-test="history-import-label">
                    <span>{l.text("history.import")}</span>
                    <input type="file" accept="application/json,.json" class="visually-hidden" data-test="history-import" on:change=import/>
                </label>
                {move || if confirming.get() {
                    view! {
                        <span class="confirm" role="group" aria-label=state.t("history.delete_confirm_label")>
                            <span>{state.t("history.delete_question")}</span>
                            <button type="button" class="danger" data-test="history-delete-confirm" on:click=delete_all>{state.t("history.delete_yes")}</button>
                            <button type="button" class="secondary" on:click=move |_| confirming.set(false)>{state.t("history.delete_no")}</button>
                        </span>
                    }
                    .into_any()
                } else {
                    view! {
                        <button type="button" class="danger" data-test="history-delete" on:click=move |_| confirming.set(true)>{state.t("history.delete")}</button>
                    }
                    .into_any()
                }}
            </div>
        }
        .into_any()
    };

    view! {
        <section id="history" class="history no-print" aria-labelledby="history-heading" data-test="history">
            <h2 id="history-heading">{move || state.t("history.heading")}</h2>
            <p class="where" data-test="history-where">{move || state.t("history.where")}</p>
            {body}
            {move || history.notice.get().map(|(ok, message)| view! {
                <p class:saved=ok class:error=!ok role="status" data-test="history-notice">{message.render(state.lang.get())}</p>
            })}
        </section>
    }
}
