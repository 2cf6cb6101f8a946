//! The model's state: download progress, the backend it runs on, or why it failed.

use leptos::prelude::*;

use super::{ModelState, State};

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[component]
pub fn ModelStatus() -> impl IntoView {
    let state = expect_context::<State>();
    view! {
        <section class="status" aria-label="Model status" data-test="model-status">
            {move || match state.model.get() {
                ModelState::Starting => view! { <p>"Starting the model…"</p> }.into_any(),
                ModelState::Loading { loaded, total } => {
                    let label = format!("Downloading the model: {} of {}", megabytes(loaded), megabytes(total));
                    view! {
                        <label class="progress">
                            <span>{label}</span>
                            <progress max=total.max(1) as f64 value=loaded as f64></progress>
                        </label>
                    }
                    .into_any()
                }
                ModelState::Ready { backend, load_ms, members, .. } => view! {
                    <p data-test="model-ready" data-backend=backend.clone()>
                        {format!("Model ready: {members} networks on {backend} (loaded in {:.1} s).", load_ms / 1000.0)}
                    </p>
                }
                .into_any(),
                ModelState::Failed(message) => view! {
                    <p class="error" role="alert" data-test="model-error">{format!("The model could not be loaded: {message}")}</p>
                }
                .into_any(),
            }}
        </section>
    }
}
