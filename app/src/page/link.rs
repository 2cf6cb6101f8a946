//! The page's side of the worker: starting it, sending requests (photos
//! transferred, not copied) and turning its replies into page state.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions};

use crate::envelope;
use crate::protocol::{Reply, Request};

/// The worker script trunk writes next to the page (a relative URL, so the
/// site works under any path).
const WORKER_SCRIPT: &str = "./worker_loader.js";

pub struct Link {
    worker: Worker,
}

impl Link {
    /// Starts the worker; `on_reply` hears every reply (with the photo bytes
    /// that come with results), `on_crash` a worker that died.
    pub fn start(
        mut on_reply: impl FnMut(Reply, Option<Vec<u8>>) + 'static,
        mut on_crash: impl FnMut(String) + 'static,
    ) -> Result<Link, String> {
        let options = WorkerOptions::new();
        options.set_name("dermlens-inference");
        let worker = Worker::new_with_options(WORKER_SCRIPT, &options)
            .map_err(|e| format!("cannot start the model worker: {e:?}"))?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let (json, bytes) = envelope::unpack(&event.data());
            match serde_json::from_str::<Reply>(&json) {
                Ok(reply) => on_reply(reply, bytes),
                Err(e) => web_sys::console::error_1(
                    &format!("dermlens: unreadable reply from the worker: {e}").into(),
                ),
            }
        });
        worker.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        listener.forget();
        let crash = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let message = Reflect::get(&event, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "unknown error".into());
            on_crash(message);
        });
        worker.set_onerror(Some(crash.as_ref().unchecked_ref()));
        crash.forget();
        Ok(Link { worker })
    }

    pub fn send(&self, request: &Request, bytes: Option<Vec<u8>>) -> Result<(), String> {
        let json = serde_json::to_string(request).map_err(|e| e.to_string())?;
        let (message, transfer) = envelope::pack(json, bytes);
        self.worker
            .post_message_with_transfer(&message, &transfer)
            .map_err(|e| format!("cannot reach the model worker: {e:?}"))
    }
}
