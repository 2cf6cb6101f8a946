//! The inference worker: receives requests from the page, answers with
//! progress, results and errors. The photo it receives stays in memory only
//! for the analysis.

mod cache;
mod engine;
mod fetch;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use app::envelope;
use app::protocol::{Reply, Request};
use engine::Engine;

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Posts `reply`, with `bytes` transferred rather than copied.
fn post(reply: &Reply, bytes: Option<Vec<u8>>) {
    let json = serde_json::to_string(reply)
        .unwrap_or_else(|e| format!(r#"{{"kind":"load_failed","message":"{e}"}}"#));
    let (message, transfer) = envelope::pack(json, bytes);
    if let Err(e) = scope().post_message_with_transfer(&message, &transfer) {
        web_sys::console::error_2(&"dermlens worker: cannot answer the page".into(), &e);
    }
}

async fn handle(request: Request, bytes: Option<Vec<u8>>) {
    match request {
        Request::Load { backend } => {
            let started = engine::now_ms();
            let mut last_post = 0u64;
            let mut progress = |loaded: u64, total: u64| {
                // Every 1% at most: a message per network chunk would flood the page.
                if loaded == total || loaded >= last_post + total / 100 {
                    last_post = loaded;
                    post(&Reply::Progress { loaded, total }, None);
                }
            };
            match Engine::load(backend, &mut progress).await {
                Ok(engine) => {
                    let manifest = &engine.bundle.manifest;
                    let reply = Reply::Ready {
                        backend: engine.backend.clone(),
                        load_ms: engine::now_ms() - started,
                        classes: manifest.classes.clone(),
                        model: engine.info(),
                        thresholds: manifest.thresholds.clone(),
                    };
                    ENGINE.with(|e| *e.borrow_mut() = Some(Rc::new(engine)));
                    post(&reply, None);
                }
                Err(message) => post(&Reply::LoadFailed { message }, None),
            }
        }
        Request::Analyse { id, crop, metadata } => {
            let Some(engine) = ENGINE.with(|e| e.borrow().clone()) else {
                post(&Reply::Failed { id, message: "the model is not loaded yet".into() }, None);
                return;
            };
            let Some(bytes) = bytes else {
                post(&Reply::Failed { id, message: "no photo came with the request".into() }, None);
                return;
            };
            match engine.analyse(&bytes, crop, &metadata).await {
                Ok((result, rgba)) => {
                    post(&Reply::Analysed { id, result: Box::new(result) }, Some(rgba))
                }
                Err(message) => post(&Reply::Failed { id, message }, None),
            }
        }
    }
}

fn on_message(event: MessageEvent) {
    let (json, bytes) = envelope::unpack(&event.data());
    match serde_json::from_str::<Request>(&json) {
        Ok(request) => wasm_bindgen_futures::spawn_local(handle(request, bytes)),
        Err(e) => {
            web_sys::console::error_1(&format!("dermlens worker: unreadable request: {e}").into())
        }
    }
}

pub fn start() {
    console_error_panic_hook::set_once();
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(on_message);
    scope().set_onmessage(Some(listener.as_ref().unchecked_ref()));
    // The worker lives as long as the page: so does its listener.
    listener.forget();
    post(&Reply::Listening, None);
}
