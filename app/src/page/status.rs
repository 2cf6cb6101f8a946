//! The model's state: download progress, the backend it runs on, or why it failed.

use leptos::prelude::*;

use super::state::{ModelState, State};

#[component]
pub fn ModelStatus() -> impl IntoView {
    let state = expect_context::<State>();
    view! {
        <section class="status" aria-label=move || state.t("status.label") data-test="model-status">
            {move || {
                let l = state.lang.get();
                match state.model.get() {
                    ModelState::Starting => view! { <p>{l.text("status.starting")}</p> }.into_any(),
                    ModelState::Loading { loaded, total } => {
                        let label = l.format(
                            "status.downloading",
                            &[("loaded", &l.megabytes(loaded)), ("total", &l.megabytes(total))],
                        );
                        view! {
                            <label class="progress">
                                <span>{label}</span>
                                <progress max=total.max(1) as f64 value=loaded as f64></progress>
                            </label>
                        }
                        .into_any()
                    }
                    ModelState::Ready(ready) => {
                        let text = l.format(
                            "status.ready",
                            &[
                                ("networks", &l.networks(ready.info.members.len())),
                                ("backend", &ready.backend),
                                ("seconds", &l.seconds(ready.load_ms)),
                            ],
                        );
                        view! { <p data-test="model-ready" data-backend=ready.backend.clone()>{text}</p> }
                            .into_any()
                    }
                    ModelState::Failed(message) => view! {
                        <p class="error" role="alert" data-test="model-error">{message.render(l)}</p>
                    }
                    .into_any(),
                }
            }}
        </section>
    }
}
