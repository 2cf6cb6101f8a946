//! Following a spot over time, on this device only: results saved to a
//! named spot, that spot's photos side by side with their results and
//! dates, and what changed between two of them. Off until the person turns
//! it on; kept in this browser's IndexedDB ([`super::store`]); exported to
//! and imported from one JSON file; deleted whole with one button.

mod compare;
mod file;
mod save;
mod state;

use leptos::prelude::*;
use web_sys::HtmlInputElement;

use super::report::date_time;
use super::state::State;
use super::store::Entry;
use compare::{Compare, class_label};
pub use save::SaveToSpot;
pub use state::HistoryState;

/// The chosen spot's entries, oldest first, each with its photo, date,
/// result and a remove button.
#[component]
fn Entries(entries: Vec<Entry>) -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    let l = state.lang.get_untracked();
    let items = entries
        .iter()
        .map(|entry| {
            let id = entry.id;
            let date = date_time(l, entry.id);
            let top = entry.probabilities.get(entry.top).copied().unwrap_or(0.0);
            let summary = l.format(
                "history.entry_summary",
                &[
                    ("class", &class_label(l, entry, entry.top)),
                    ("probability", &l.share(top)),
                    ("malignant", &l.share(entry.malignant)),
                ],
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
                        <button type="button" class="link" on:click=move |_| history.remove(id)
                            aria-label=l.format("history.remove_label", &[("date", &date)])>
                            {l.text("history.remove")}
                        </button>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="entries">{items}</ul> }
}

/// Which two of the spot's entries to compare (the first and the last
/// unless chosen), and their comparison.
#[component]
fn Comparison(
    entries: Vec<Entry>,
    earlier: RwSignal<Option<f64>>,
    later: RwSignal<Option<f64>>,
) -> impl IntoView {
    let state = expect_context::<State>();
    let l = state.lang.get_untracked();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return ().into_any();
    };
    let (first, last) = (first.id, last.id);
    // One date picker: its label, its name for the tests, the chosen id.
    let picker = |label: &str, test: &'static str, picked: RwSignal<Option<f64>>, default: f64| {
        let options = entries
            .iter()
            .map(|e| {
                let id = e.id;
                view! { <option value=id.to_string() selected=move || picked.get().unwrap_or(default) == id>{date_time(l, e.id)}</option> }
            })
            .collect_view();
        view! {
            <label>
                <span>{l.text(label)}</span>
                <select data-test=test on:change=move |ev| picked.set(event_target_value(&ev).parse().ok())>
                    {options}
                </select>
            </label>
        }
    };
    let all = entries.clone();
    // Chosen anew, compared anew.
    let pair = move || {
        let find = |id: f64| all.iter().find(|e| e.id == id).cloned();
        match (find(earlier.get().unwrap_or(first)), find(later.get().unwrap_or(last))) {
            (Some(a), Some(b)) => view! { <Compare earlier=a later=b/> }.into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <div class="pickers">
            {picker("history.earlier", "compare-earlier", earlier, first)}
            {picker("history.later", "compare-later", later, last)}
        </div>
        {pair}
    }
    .into_any()
}

/// The spot chooser: each spot with its number of results.
#[component]
fn SpotPicker(spots: Vec<String>, chosen: String) -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    let l = state.lang.get_untracked();
    let entries = history.entries.get_untracked();
    let options = spots
        .into_iter()
        .map(|s| {
            let count = entries.iter().filter(|e| e.spot == s).count();
            let label = l.format("history.spot_option", &[("spot", &s), ("n", &count.to_string())]);
            let selected = s == chosen;
            view! { <option value=s selected=selected>{label}</option> }
        })
        .collect_view();
    view! {
        <label class="spot-picker">
            <span>{l.text("history.spot_choose")}</span>
            <select data-test="spot-select" on:change=move |ev| history.spot.set(event_target_value(&ev))>
                {options}
            </select>
        </label>
    }
}

/// Export, import and "Delete everything" (asked twice).
#[component]
fn Manage() -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    let confirming = RwSignal::new(false);
    let import = move |ev: leptos::ev::Event| history.import(event_target::<HtmlInputElement>(&ev));
    let delete_all = move |_| {
        confirming.set(false);
        history.delete_everything();
    };
    view! {
        <div class="buttons">
            <button type="button" class="secondary" data-test="history-export" on:click=move |_| history.export()>{move || state.t("history.export")}</button>
            <label class="file-button secondary" data-test="history-import-label">
                <span>{move || state.t("history.import")}</span>
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
}

#[component]
pub fn History() -> impl IntoView {
    let state = expect_context::<State>();
    let history = expect_context::<HistoryState>();
    // Which two of the spot's entries are compared (ids); the first and the last by default.
    let pick_earlier = RwSignal::new(None::<f64>);
    let pick_later = RwSignal::new(None::<f64>);
    Effect::new(move |_| {
        history.spot.track();
        pick_earlier.set(None);
        pick_later.set(None);
    });
    history.reload();

    let body = move || {
        let l = state.lang.get();
        if !history.enabled.get() {
            return view! {
                <p>{l.text("history.off")}</p>
                <button type="button" data-test="history-enable" on:click=move |_| history.enable()>{l.text("history.enable")}</button>
            }
            .into_any();
        }
        let spots = history.spots();
        let spot = history.spot.get();
        let entries: Vec<Entry> =
            history.entries.get().into_iter().filter(|e| e.spot == spot).collect();
        let shown = if spots.is_empty() {
            view! { <p data-test="history-empty">{l.text("history.empty")}</p> }.into_any()
        } else {
            let compared = (entries.len() >= 2).then(|| {
                view! { <Comparison entries=entries.clone() earlier=pick_earlier later=pick_later/> }
            });
            view! {
                <SpotPicker spots=spots chosen=spot/>
                <Entries entries=entries/>
                {compared}
            }
            .into_any()
        };
        view! { {shown} <Manage/> }.into_any()
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
