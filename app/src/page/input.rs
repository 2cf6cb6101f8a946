//! Giving the page a photo: file picker, camera, drag and drop, paste. A
//! photo given while the model is still loading waits for it.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlInputElement};

use super::state::{Activity, Given, Message, ModelState, State};

/// Larger files are refused before reading: no phone photo comes near this.
const MAX_FILE_BYTES: f64 = 60e6;

async fn read(file: &File) -> Result<Vec<u8>, Message> {
    if file.size() > MAX_FILE_BYTES {
        return Err(Message::new("error.too_big")
            .with("name", file.name())
            .with("size", format!("{:.0}", file.size() / 1e6))
            .with("limit", format!("{:.0}", MAX_FILE_BYTES / 1e6)));
    }
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| Message::new("error.unreadable").with("name", file.name()))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

fn take(state: State, file: Option<File>) {
    let Some(file) = file else { return };
    wasm_bindgen_futures::spawn_local(async move {
        match read(&file).await {
            Ok(bytes) => {
                let name = file.name();
                let name =
                    if name.is_empty() { state.locale().text("input.pasted_image") } else { name };
                state.analyse(Given::new(name, bytes))
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
    // A photo can be given at once: it waits for the model if need be.
    let unusable = move || matches!(state.model.get(), ModelState::Failed(_));
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
            class="drop no-print"
            class:dragging=move || dragging.get()
            aria-labelledby="input-heading"
            on:dragover=move |ev: ev::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <h2 id="input-heading">{move || state.t("input.heading")}</h2>
            <p>{move || state.t("input.hint")}</p>
            <div class="buttons">
                <button type="button" data-test="choose" on:click=move |_| if let Some(i) = picker.get() { i.click() } disabled=unusable>
                    {move || state.t("input.choose")}
                </button>
                <button type="button" on:click=move |_| if let Some(i) = camera.get() { i.click() } disabled=unusable>
                    {move || state.t("input.camera")}
                </button>
            </div>
            <input id="photo-input" node_ref=picker type="file" accept="image/*" class="visually-hidden" tabindex="-1" aria-hidden="true" on:change=on_change/>
            <input id="camera-input" node_ref=camera type="file" accept="image/*" capture="environment" class="visually-hidden" tabindex="-1" aria-hidden="true" on:change=on_change/>
            <p class="formats">{move || state.t("input.formats")}</p>
            {move || {
                let l = state.lang.get();
                match state.activity.get() {
                    Activity::Waiting { name } => view! {
                        <p class="busy" data-test="waiting">{l.format("input.waiting", &[("name", &name)])}</p>
                    }
                    .into_any(),
                    Activity::Analysing { name } => view! {
                        <p class="busy" data-test="busy">{l.format("input.analysing", &[("name", &name)])}</p>
                    }
                    .into_any(),
                    Activity::Error(message) => view! {
                        <p class="error" role="alert" data-test="error">{message.render(l)}</p>
                    }
                    .into_any(),
                    Activity::Idle => ().into_any(),
                }
            }}
        </section>
    }
}
