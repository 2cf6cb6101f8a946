//! The page: model status, photo input, result. State lives in signals;
//! the worker link turns replies into state changes.

mod heatmap;
mod input;
mod link;
mod result;
mod status;

use std::sync::Arc;

use image::RgbImage;
use leptos::prelude::*;
use model::classes::LesionClass;
use wasm_bindgen::JsCast;

use crate::protocol::{AnalysisReply, BackendChoice, Reply, Request};
use link::Link;

#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Starting,
    Loading { loaded: u64, total: u64 },
    Ready { backend: String, load_ms: f64, members: usize, classes: Vec<LesionClass> },
    Failed(String),
}

/// A result on screen: the worker's answer and the photo it analysed.
#[derive(Debug)]
pub struct Shown {
    pub reply: AnalysisReply,
    pub photo: RgbImage,
}

/// What the person is doing right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Idle,
    Analysing { name: String },
    Error(String),
}

#[derive(Clone, Copy)]
pub struct State {
    pub model: RwSignal<ModelState>,
    pub activity: RwSignal<Activity>,
    pub shown: RwSignal<Option<Arc<Shown>>>,
    /// Text for screen readers (a polite live region).
    pub announcement: RwSignal<String>,
    /// Id of the latest photo sent: older answers are dropped.
    pub latest: RwSignal<u32>,
    link: StoredValue<Option<Link>, LocalStorage>,
}

impl State {
    /// Sends a photo to the worker.
    pub fn analyse(&self, name: String, bytes: Vec<u8>) {
        let id = self.latest.get_untracked() + 1;
        self.latest.set(id);
        self.activity.set(Activity::Analysing { name: name.clone() });
        self.announcement.set(format!("Analysing {name}…"));
        let sent = self.link.with_value(|link| match link {
            Some(link) => link.send(&Request::Analyse { id }, Some(bytes)),
            None => Err("the model worker is not running".into()),
        });
        if let Err(message) = sent {
            self.fail(message);
        }
    }

    pub fn fail(&self, message: String) {
        self.announcement.set(format!("Error: {message}"));
        self.activity.set(Activity::Error(message));
    }

    fn on_reply(&self, reply: Reply, bytes: Option<Vec<u8>>) {
        match reply {
            Reply::Listening => {
                let sent = self.link.with_value(|link| match link {
                    Some(link) => link.send(&Request::Load { backend: backend_choice() }, None),
                    None => Err("the model worker is not running".into()),
                });
                if let Err(message) = sent {
                    self.model.set(ModelState::Failed(message));
                }
            }
            Reply::Progress { loaded, total } => {
                self.model.set(ModelState::Loading { loaded, total })
            }
            Reply::Ready { backend, load_ms, classes, members, .. } => {
                self.announcement.set(format!("The model is ready ({backend})."));
                self.model.set(ModelState::Ready { backend, load_ms, members, classes });
            }
            Reply::LoadFailed { message } => {
                self.announcement.set(format!("The model could not be loaded: {message}"));
                self.model.set(ModelState::Failed(message));
            }
            Reply::Analysed { id, result } if id == self.latest.get_untracked() => {
                let photo =
                    bytes.and_then(|b| image::RgbaImage::from_raw(result.width, result.height, b));
                let Some(photo) = photo else {
                    self.fail("the worker sent back a damaged photo".into());
                    return;
                };
                let photo = image::DynamicImage::ImageRgba8(photo).into_rgb8();
                let mut said = format!("{} {}", result.guidance.summary, result.guidance.advice);
                for issue in &result.analysis.issues {
                    said = format!("{} {said}", issue.message());
                }
                self.announcement.set(said);
                self.shown.set(Some(Arc::new(Shown { reply: *result, photo })));
                self.activity.set(Activity::Idle);
            }
            Reply::Failed { id, message } if id == self.latest.get_untracked() => {
                self.shown.set(None);
                self.fail(message);
            }
            Reply::Analysed { .. } | Reply::Failed { .. } => {}
        }
    }
}

fn backend_choice() -> BackendChoice {
    BackendChoice::from_query(&window().location().search().unwrap_or_default())
}

fn register_service_worker() {
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

#[component]
fn App() -> impl IntoView {
    let state = State {
        model: RwSignal::new(ModelState::Starting),
        activity: RwSignal::new(Activity::Idle),
        shown: RwSignal::new(None),
        announcement: RwSignal::new(String::new()),
        latest: RwSignal::new(0),
        link: StoredValue::new_local(None),
    };
    provide_context(state);
    let started = Link::start(
        move |reply, bytes| state.on_reply(reply, bytes),
        move |message| {
            let message =
                format!("the model worker stopped ({message}); reload the page to try again");
            state.model.set(ModelState::Failed(message.clone()));
            state.fail(message);
        },
    );
    match started {
        // The worker asks for the model once its code runs (Reply::Listening).
        Ok(link) => state.link.set_value(Some(link)),
        Err(message) => state.model.set(ModelState::Failed(message)),
    }
    register_service_worker();

    view! {
        <header>
            <h1>"dermlens"</h1>
            <p class="tagline">"Check a photo of a skin spot against seven kinds of lesion, privately: the photo never leaves this device."</p>
        </header>
        <main>
            <p class="disclaimer" role="note">{model::guidance::NOT_A_DIAGNOSIS}</p>
            <status::ModelStatus/>
            <input::PhotoInput/>
            <result::Result/>
            <p class="visually-hidden" aria-live="polite" aria-atomic="true" data-test="announcement">{move || state.announcement.get()}</p>
        </main>
        <footer>
            <p>
                "Runs entirely in your browser; nothing is uploaded. Model trained on the HAM10000 dataset (Tschandl, Rosendahl & Kittler, 2018; CC BY-NC 4.0) from EfficientNet-Lite0 ImageNet weights (Apache-2.0). For information only; not a medical device."
            </p>
        </footer>
    }
}

pub fn start() {
    console_error_panic_hook::set_once();
    let Some(root) =
        document().get_element_by_id("app").and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        web_sys::console::error_1(&"dermlens: the page has no #app element".into());
        return;
    };
    // Replace the "Loading…" placeholder of index.html.
    root.set_inner_html("");
    leptos::mount::mount_to(root, App).forget();
}
