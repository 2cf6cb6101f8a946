//! The answer: photo warnings, the summary and advice, agreement, the
//! probability bars and the Grad-CAM view.

use leptos::prelude::*;
use model::quality::QualityIssue;

use super::{ModelState, State, heatmap::HeatMap};

fn percent(p: f32) -> String {
    format!("{:.1}%", p * 100.0)
}

#[component]
pub fn Result() -> impl IntoView {
    let state = expect_context::<State>();
    let classes = move || match state.model.get() {
        ModelState::Ready { classes, .. } => classes,
        _ => Vec::new(),
    };
    move || {
        let shown = state.shown.get()?;
        let classes = classes();
        let reply = &shown.reply;
        let prediction = &reply.analysis.prediction;
        let mut order: Vec<usize> = (0..prediction.probabilities.len()).collect();
        order.sort_by(|&a, &b| prediction.probabilities[b].total_cmp(&prediction.probabilities[a]));
        let members = prediction.members.len();
        let agreeing = (prediction.agreement * members as f32).round() as usize;
        let issues: Vec<QualityIssue> = reply.analysis.issues.clone();
        let retake = (!issues.is_empty()).then(|| {
            view! {
                <div class="warning" role="alert" data-test="retake">
                    <strong>"Please retake the photo."</strong>
                    <ul>{issues.iter().map(|i| view! { <li>{i.message()}</li> }).collect_view()}</ul>
                </div>
            }
        });
        let unfamiliar = prediction.unfamiliar.then(|| {
            view! {
                <div class="warning" role="alert" data-test="not-a-lesion">
                    <strong>"This does not look like a close-up of a skin lesion."</strong>
                    " The model only knows dermatoscope-style photos of single spots; its answer below is unreliable."
                </div>
            }
        });
        let bars = order
            .iter()
            .filter_map(|&c| classes.get(c).map(|class| (c, class.clone())))
            .map(|(c, class)| {
                let p = prediction.probabilities[c];
                view! {
                    <li class:malignant=class.malignant data-test="class-row" data-code=class.code.clone()>
                        <span class="name">{format!("{} ({})", class.name, class.plain)}</span>
                        <span class="bar" aria-hidden="true"><span class="fill" style:width=format!("{:.1}%", p * 100.0)></span></span>
                        <span class="value" data-test="probability">{percent(p)}</span>
                    </li>
                }
            })
            .collect_view();
        let heat_classes: Vec<(usize, String)> =
            order.iter().filter_map(|&c| classes.get(c).map(|k| (c, k.name.clone()))).collect();
        Some(view! {
            <section class="result" aria-labelledby="result-heading" data-test="result">
                <h2 id="result-heading">"Result"</h2>
                {retake}
                {unfamiliar}
                <p class="summary" data-test="summary">{reply.guidance.summary.clone()}</p>
                <p class="advice" class:urgent=reply.guidance.see_doctor data-test="advice">{reply.guidance.advice.clone()}</p>
                <p class="agreement" data-test="agreement">
                    {format!("{agreeing} of {members} networks agree on the top class.")}
                    {prediction.uncertain.then(|| view! { <span class="badge" data-test="uncertain">" Uncertain"</span> })}
                </p>
                <ol class="bars" aria-label="Probability of each kind of lesion">{bars}</ol>
                <HeatMap shown=shown.clone() classes=heat_classes/>
                <p class="meta" data-test="timing">
                    {format!("Ran on {} in {:.0} ms, entirely on this device.", reply.backend, reply.elapsed_ms)}
                </p>
            </section>
        })
    }
}
