//! Two results of one spot side by side: the photos, a fade from one to
//! the other, and each class's change in percentage points.

use leptos::prelude::*;

use super::super::report::{date_short, date_time};
use super::super::state::State;
use super::super::store::Entry;
use crate::i18n::Locale;

pub fn class_label(l: &Locale, entry: &Entry, c: usize) -> String {
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
pub fn Compare(earlier: Entry, later: Entry) -> impl IntoView {
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
