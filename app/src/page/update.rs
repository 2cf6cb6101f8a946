//! Offline use and updates. The service worker (`public/sw.js`) keeps the
//! app's files in a cache named after their digest; when it finds that the
//! site now serves other files (a new app or a new model), it fills a new
//! cache, drops the old one and tells the page, which offers to reload.
//! The page asks it to look once the model is ready and whenever the page
//! comes back into view (the service worker looks at most every few minutes).

use std::time::Duration;

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::MessageEvent;

use super::state::State;

/// The message the service worker sends when a new version is ready.
const UPDATE_READY: &str = "dermlens-update-ready";
/// The message that asks the service worker to look for a new version.
const CHECK: &str = "dermlens-check-update";

/// Registers the service worker, so the next visit works offline. Called
/// once the model is ready: the worker's install then copies the app's
/// files from the browser's HTTP cache instead of downloading them a second
/// time alongside the page's own first download.
pub fn install() {
    let container = window().navigator().service_worker();
    // Offline use is a bonus: a browser without service workers (or a page
    // opened from a file) still works online.
    let promise = container.register("./sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = wasm_bindgen_futures::JsFuture::from(promise).await {
            web_sys::console::warn_2(&"dermlens: offline mode unavailable".into(), &e);
        }
    });
}

/// Listens for the service worker's news.
pub fn listen(state: State) {
    let container = window().navigator().service_worker();
    let had_controller = container.controller().is_some();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let kind = Reflect::get(&event.data(), &"type".into()).ok().and_then(|t| t.as_string());
        if kind.as_deref() == Some(UPDATE_READY) {
            state.update.set(true);
        }
    });
    container.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // A new service worker taking over a page an older one served: new code.
    // (The very first one taking over a fresh page is no update.)
    let on_change = Closure::<dyn FnMut()>::new(move || {
        if had_controller {
            state.update.set(true);
        }
    });
    container.set_oncontrollerchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget();
    let on_visible = Closure::<dyn FnMut()>::new(move || {
        if !document().hidden() {
            check();
        }
    });
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", on_visible.as_ref().unchecked_ref());
    on_visible.forget();
}

/// Asks the service worker to look for a new version.
pub fn check() {
    let Some(controller) = window().navigator().service_worker().controller() else { return };
    let message = Object::new();
    let _ = Reflect::set(&message, &"type".into(), &CHECK.into());
    let _ = controller.post_message(&message);
}

/// Looks for a new version a little after the model is ready (not while
/// the first download still competes for the network).
pub fn check_soon() {
    set_timeout(check, Duration::from_secs(3));
}

#[component]
pub fn UpdateBanner() -> impl IntoView {
    let state = expect_context::<State>();
    move || {
        state.update.get().then(|| {
            view! {
                <div class="update no-print" role="status" data-test="update">
                    <p>{state.t("update.available")}</p>
                    <button type="button" data-test="update-reload" on:click=move |_| {
                        let _ = window().location().reload();
                    }>{state.t("update.reload")}</button>
                </div>
            }
        })
    }
}
