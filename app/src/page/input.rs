//! Giving the page a photo: file picker, camera, drag and drop, paste.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlInputElement};

use super::{Activity, State};

/// Larger files are refused before reading: no phone photo comes near this.
const MAX_FILE_BYTES: f64 = 60e6;

async fn read(file: File) -> Result<Vec<u8>, String> {
    if file.size() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is {:.0} MB; photos up to {:.0} MB are accepted",
            file.name(),
            file.size() / 1e6,
            MAX_FILE_BYTES / 1e6
        ));
    }
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| format!("{} could not be read", file.name()))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

fn take(state: State, file: Option<File>) {
    let Some(file) = file else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let name = file.name();
        match read(file).await {
            Ok(bytes) => {
                state.analyse(if name.is_empty() { "the pasted image".into() } else { name }, bytes)
            }
            Err(message) => state.fail(message),
        }
    });
}

fn first_file(files: Option<web_sys::FileList>) -> Option<File> {
    files.and_then(|f| f.get(0))
}

#[component]
pub fn PhotoInput() -> impl IntoView {
    let state = expect_context::<State>();
    let picker = NodeRef::<html::Input>::new();
    let camera = NodeRef::<html::Input>::new();
    let dragging = RwSignal::new(false);
    let ready = move || matches!(state.model.get(), super::ModelState::Ready { .. });
    let on_change = move |ev: ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        take(state, first_file(input.files()));
        // Choosing the same file again should analyse it again.
        input.set_value("");
    };
    let on_drop = move |ev: ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        take(state, first_file(ev.data_transfer().and_then(|d| d.files())));
    };
    let paste = window_event_listener(ev::paste, move |ev: ev::ClipboardEvent| {
        if let Some(file) = first_file(ev.clipboard_data().and_then(|d| d.files())) {
            ev.prevent_default();
            take(state, Some(file));
        }
    });
    on_cleanup(move || paste.remove());

    view! {
        <section
            class="drop"
            class:dragging=move || dragging.get()
            aria-labelledby="input-heading"
            on:dragover=move |ev: ev::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <h2 id="input-heading">"Your photo"</h2>
            <p>"Choose a sharp, well-lit close-up of one spot. Drop it here, paste it, or:"</p>
            <div class="buttons">
                <button type="button" on:click=move |_| if let Some(i) = picker.get() { i.click() } disabled=move || !ready()>
                    "Choose a photo"
                </button>
                <button type="button" on:click=move |_| if let Some(i) = camera.get() { i.click() } disabled=move || !ready()>
                    "Take a photo"
                </button>
            </div>
            <input id="photo-input" node_ref=picker type="file" accept="image/*" class="visually-hidden" tabindex="-1" aria-hidden="true" on:change=on_change/>
            <input id="camera-input" node_ref=camera type="file" accept="image/*" capture="environment" class="visually-hidden" tabindex="-1" aria-hidden="true" on:change=on_change/>
            <p class="formats">"JPEG, PNG, WebP, BMP or GIF. iPhone HEIC photos: share or export them as JPEG first."</p>
            {move || match state.activity.get() {
                Activity::Analysing { name } => view! { <p class="busy" data-test="busy">{format!("Analysing {name}…")}</p> }.into_any(),
                Activity::Error(message) => view! { <p class="error" role="alert" data-test="error">{message}</p> }.into_any(),
                Activity::Idle => ().into_any(),
            }}
        </section>
    }
}
