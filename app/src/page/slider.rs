//! A labelled range input bound to a number: the heat map's opacity, the
//! crop square's size.

use leptos::prelude::*;

use super::state::State;

/// A slider from `min` to `max` in steps of `step`, labelled with the text
/// of `label` (a language table key), holding `value`; `test` names it for
/// the end-to-end test.
#[component]
pub fn Slider(
    label: &'static str,
    min: f32,
    max: f32,
    step: f32,
    value: RwSignal<f32>,
    test: &'static str,
) -> impl IntoView {
    let state = expect_context::<State>();
    view! {
        <label>
            <span>{move || state.t(label)}</span>
            <input
                type="range"
                min=min.to_string()
                max=max.to_string()
                step=step.to_string()
                data-test=test
                prop:value=move || value.get().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                        value.set(v);
                    }
                }
            />
        </label>
    }
}
