//! The answer: photo warnings, the summary and advice, agreement and why a
//! result is uncertain, the probability bars with each class's range over
//! the networks, the Grad-CAM view, what the model learned from, and the
//! ways to keep the result (report, print, the spot history).

use leptos::prelude::*;
use model::classes::LesionClass;
use model::ensemble::Prediction;
use model::quality::QualityIssue;
use wasm_bindgen::JsCast;

use super::crop::CropTool;
use super::heatmap::HeatMap;
use super::state::State;
use super::{history, report};
use crate::i18n::Locale;

/// Opens `open`'s crop panel and moves the focus (and so the view) to its photo.
fn open_crop(open: RwSignal<bool>) {
    open.set(true);
    request_animation_frame(|| {
        let photo = document()
            .query_selector("[data-test=crop-photo]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(photo) = photo {
            let _ = photo.focus();
        }
    });
}

/// The photo checks' reasons to retake the photo, each with what to do.
fn retake_warning(l: &Locale, issues: &[QualityIssue]) -> Option<impl IntoView + use<>> {
    let items: Vec<String> = issues.iter().map(|i| l.issue(*i)).collect();
    (!items.is_empty()).then(|| {
        view! {
            <div class="warning" role="alert" data-test="retake">
                <strong>{l.text("result.retake")}</strong>
                <ul>{items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul>
            </div>
        }
    })
}

fn unfamiliar_warning(l: &Locale) -> impl IntoView + use<> {
    view! {
        <div class="warning" role="alert" data-test="not-a-lesion">
            <strong>{l.text("result.unfamiliar_title")}</strong>
            " "
            {l.text("result.unfamiliar_body")}
        </div>
    }
}

/// One bar per class, most similar first, with the range over the networks.
fn class_bars(
    l: &Locale,
    classes: &[LesionClass],
    prediction: &Prediction,
    ranges: &[[f32; 2]],
    order: &[usize],
    several: bool,
) -> impl IntoView + use<> {
    order
        .iter()
        .filter_map(|&c| classes.get(c).map(|class| (c, class.clone())))
        .map(|(c, class)| {
            let p = prediction.probabilities[c];
            let [lo, hi] = ranges.get(c).copied().unwrap_or([p, p]);
            let name = format!("{} ({})", l.class_name(&class), l.class_plain(&class));
            let range = l.format("result.range", &[("range", &l.range(lo, hi))]);
            view! {
                <li class:malignant=class.malignant data-test="class-row" data-code=class.code.clone()>
                    <span class="name">
                        {name}
                        {class.malignant.then(|| view! { <span class="tag" data-test="malignant-tag">{l.text("result.malignant_tag")}</span> })}
                    </span>
                    <span class="bar" aria-hidden="true">
                        <span class="fill" style:width=format!("{:.1}%", p * 100.0)></span>
                        {several.then(|| view! {
                            <span class="spread" style:left=format!("{:.1}%", lo * 100.0) style:width=format!("{:.1}%", (hi - lo).max(0.0) * 100.0)></span>
                        })}
                    </span>
                    <span class="value" data-test="probability" data-value=p.to_string()>{l.share(p)}</span>
                    {several.then(|| view! { <span class="range" data-test="range">{range}</span> })}
                </li>
            }
        })
        .collect_view()
}

#[component]
pub fn Result() -> impl IntoView {
    let state = expect_context::<State>();
    // The class the heat map explains: the top class of each new result,
    // kept when only the language changes.
    let heat_class = RwSignal::new(0usize);
    Effect::new(move |_| {
        if let Some(shown) = state.shown.get() {
            heat_class.set(shown.reply.analysis.prediction.top);
        }
    });
    move || {
        let shown = state.shown.get()?;
        let l = state.lang.get();
        let classes = shown.model.classes.clone();
        let reply = &shown.reply;
        let prediction = &reply.analysis.prediction;
        let guidance = &reply.guidance;
        let mut order: Vec<usize> = (0..prediction.probabilities.len()).collect();
        order.sort_by(|&a, &b| prediction.probabilities[b].total_cmp(&prediction.probabilities[a]));
        let members = prediction.members.len();
        // Ranges and agreement mean something only with several networks.
        let several = members > 1;
        let agreeing = (prediction.agreement * members as f32).round() as usize;
        let issues = reply.analysis.issues.clone();
        // A spot small in the frame: the crop is offered at once.
        let crop_open = RwSignal::new(issues.contains(&QualityIssue::TooSmall));
        let retake = retake_warning(l, &issues);
        let unfamiliar = prediction.unfamiliar.then(|| unfamiliar_warning(l));
        let bars = class_bars(l, &classes, prediction, &guidance.ranges, &order, several);
        let heat_classes: Vec<(usize, String)> =
            order.iter().filter_map(|&c| classes.get(c).map(|k| (c, l.class_name(k)))).collect();
        let cautions = (!guidance.cautions.is_empty()).then(|| {
            view! {
                <ul class="cautions" data-test="cautions">
                    {guidance.cautions.iter().map(|c| view! { <li>{l.caution(c)}</li> }).collect_view()}
                </ul>
            }
        });
        let agreement = l.format(
            "result.agreement",
            &[("agreeing", &agreeing.to_string()), ("members", &members.to_string())],
        );
        let timing = l.format(
            "result.timing",
            &[("backend", &reply.backend), ("ms", &format!("{:.0}", reply.elapsed_ms))],
        );
        Some(view! {
            <section class="result" aria-labelledby="result-heading" data-test="result">
                <h2 id="result-heading">{l.text("result.heading")}</h2>
                <p class="print-only">{report::dated_line(l, shown.at)}</p>
                {retake}
                <CropTool shown=shown.clone() open=crop_open/>
                {unfamiliar}
                <p class="summary" data-test="summary">{l.summary(&guidance.summary, &classes)}</p>
                <p class="advice" class:urgent=guidance.see_doctor data-test="advice">{l.advice(guidance.advice)}</p>
                {reply.with_metadata.then(|| view! { <p class="note" data-test="with-metadata">{l.text("result.with_metadata")}</p> })}
                <div class="agreement" data-test="agreement">
                    <p>
                        {several.then_some(agreement)}
                        {prediction.uncertain.then(|| view! { <span class="badge" data-test="uncertain">{l.text("result.uncertain")}</span> })}
                    </p>
                    {cautions}
                </div>
                <h3 class="bars-heading" id="bars-heading">{l.text("result.bars_heading")}</h3>
                <ol class="bars" aria-labelledby="bars-heading">{bars}</ol>
                {several.then(|| view! { <p class="note">{l.text("result.range_note")}</p> })}
                <HeatMap shown=shown.clone() classes=heat_classes class=heat_class/>
                <p class="note" data-test="training-note">{l.text("result.training_note")}</p>
                <p class="meta" data-test="timing">{timing}</p>
                <p class="print-only">{report::model_line(l, &shown.model)}</p>
                <p class="print-only">{l.text("disclaimer")}</p>
                <div class="buttons no-print">
                    <button type="button" class="secondary" data-test="crop-open" on:click=move |_| open_crop(crop_open)>
                        {l.text("crop.open")}
                    </button>
                    <report::ReportButton shown=shown.clone() heat_class=heat_class/>
                    <button type="button" class="secondary" data-test="print" on:click=move |_| {
                        let _ = window().print();
                    }>{l.text("report.print")}</button>
                </div>
                <history::SaveToSpot shown=shown.clone()/>
            </section>
        })
    }
}
