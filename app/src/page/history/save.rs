//! Under a result: saving it to a named spot, or how to turn the history on.

use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::super::heatmap::{context_2d, image_data};
use super::super::state::{APP_VERSION, Message, Shown, State};
use super::super::store::{self, Entry};
use super::state::HistoryState;

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
