//! The page: model status, photo input, result, the spot history. State
//! lives in signals; the worker link turns replies into state changes.
//! Every text comes from the current language's table ([`crate::i18n`]).

mod heatmap;
mod history;
mod input;
mod link;
mod report;
mod result;
mod status;
mod store;
mod update;

use std::sync::Arc;

use image::RgbImage;
use leptos::prelude::*;
use model::classes::LesionClass;
use model::ensemble::Thresholds;
use wasm_bindgen::JsCast;

use crate::i18n::{self, Locale};
use crate::protocol::{AnalysisReply, BackendChoice, MODEL_CARD, ModelInfo, Reply, Request};
use link::Link;

/// The app's version (the crate's), shown with the model's.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The `localStorage` key of a language the person chose on the page.
const LANGUAGE_KEY: &str = "dermlens.language";

/// A text to show: a key of the language tables and its placeholders'
/// values, worded when shown, so switching the language rewords it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(key: &'static str) -> Self {
        Self { key, args: Vec::new() }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    pub fn render(&self, locale: &Locale) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        locale.format(self.key, &args)
    }
}

/// The loaded model, as the worker describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyModel {
    pub backend: String,
    pub load_ms: f64,
    pub classes: Vec<LesionClass>,
    pub info: ModelInfo,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Starting,
    Loading { loaded: u64, total: u64 },
    Ready(Arc<ReadyModel>),
    Failed(Message),
}

/// A result on screen: the worker's answer and the photo it analysed.
#[derive(Debug)]
pub struct Shown {
    pub reply: AnalysisReply,
    pub photo: RgbImage,
    /// The file's name.
    pub name: String,
    /// When the result came, in milliseconds since 1970.
    pub at: f64,
    pub model: Arc<ReadyModel>,
}

/// What the person is doing right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Idle,
    /// A photo given before the model was ready, kept until it is.
    Waiting {
        name: String,
    },
    Analysing {
        name: String,
    },
    Error(Message),
}

#[derive(Clone, Copy)]
pub struct State {
    pub lang: RwSignal<&'static Locale>,
    pub model: RwSignal<ModelState>,
    pub activity: RwSignal<Activity>,
    pub shown: RwSignal<Option<Arc<Shown>>>,
    /// Text for screen readers (a polite live region).
    pub announcement: RwSignal<String>,
    /// Id of the latest photo sent: older answers are dropped.
    pub latest: RwSignal<u32>,
    /// A new version of the app or the model is ready: reload to use it.
    pub update: RwSignal<bool>,
    /// The photo given before the model was ready.
    pending: StoredValue<Option<(String, Vec<u8>)>, LocalStorage>,
    link: StoredValue<Option<Link>, LocalStorage>,
}

impl State {
    /// The text for `key` in the current language (tracked: views reword on a switch).
    pub fn t(&self, key: &str) -> String {
        self.lang.get().text(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.get().format(key, args)
    }

    /// The current language, untracked (for event handlers).
    pub fn locale(&self) -> &'static Locale {
        self.lang.get_untracked()
    }

    pub fn ready_model(&self) -> Option<Arc<ReadyModel>> {
        match self.model.get() {
            ModelState::Ready(ready) => Some(ready),
            _ => None,
        }
    }

    /// Sends a photo to the worker, or keeps it until the model is ready.
    pub fn analyse(&self, name: String, bytes: Vec<u8>) {
        match self.model.get_untracked() {
            ModelState::Ready(_) => self.send(name, bytes),
            ModelState::Failed(message) => self.fail(message),
            ModelState::Starting | ModelState::Loading { .. } => {
                // The latest photo wins; it goes to the worker once the model is ready.
                self.latest.set(self.latest.get_untracked() + 1);
                self.pending.set_value(Some((name.clone(), bytes)));
                let message = Message::new("input.waiting").with("name", name.clone());
                self.announcement.set(message.render(self.locale()));
                self.activity.set(Activity::Waiting { name });
            }
        }
    }

    fn send(&self, name: String, bytes: Vec<u8>) {
        let id = self.latest.get_untracked() + 1;
        self.latest.set(id);
        let message = Message::new("input.analysing").with("name", name.clone());
        self.announcement.set(message.render(self.locale()));
        self.activity.set(Activity::Analysing { name });
        let sent = self.link.with_value(|link| match link {
            Some(link) => link.send(&Request::Analyse { id }, Some(bytes)),
            None => Err("the model worker is not running".into()),
        });
        if let Err(detail) = sent {
            self.fail(Message::new("error.worker").with("detail", detail));
        }
    }

    pub fn fail(&self, message: Message) {
        let text = message.render(self.locale());
        self.announcement.set(format!("{}: {text}", self.locale().text("error.prefix")));
        self.activity.set(Activity::Error(message));
    }

    fn on_reply(&self, reply: Reply, bytes: Option<Vec<u8>>) {
        match reply {
            Reply::Listening => {
                let sent = self.link.with_value(|link| match link {
                    Some(link) => link.send(&Request::Load { backend: backend_choice() }, None),
                    None => Err("the model worker is not running".into()),
                });
                if let Err(detail) = sent {
                    self.model.set(ModelState::Failed(
                        Message::new("error.worker").with("detail", detail),
                    ));
                }
            }
            Reply::Progress { loaded, total } => {
                self.model.set(ModelState::Loading { loaded, total })
            }
            Reply::Ready { backend, load_ms, classes, model, thresholds } => {
                let message = Message::new("status.ready_announcement").with("backend", &backend);
                self.announcement.set(message.render(self.locale()));
                let ready = ReadyModel { backend, load_ms, classes, info: model, thresholds };
                self.model.set(ModelState::Ready(Arc::new(ready)));
                if let Some((name, bytes)) = self.pending.try_update_value(Option::take).flatten() {
                    self.send(name, bytes);
                }
                update::install();
                update::check_soon();
            }
            Reply::LoadFailed { message } => {
                let message = Message::new("error.model_load").with("detail", message);
                self.announcement.set(message.render(self.locale()));
                self.model.set(ModelState::Failed(message.clone()));
                if self.pending.try_update_value(Option::take).flatten().is_some() {
                    self.fail(message);
                }
            }
            Reply::Analysed { id, result } if id == self.latest.get_untracked() => {
                let photo =
                    bytes.and_then(|b| image::RgbaImage::from_raw(result.width, result.height, b));
                let (Some(photo), ModelState::Ready(model)) = (photo, self.model.get_untracked())
                else {
                    self.fail(Message::new("error.damaged_reply"));
                    return;
                };
                let photo = image::DynamicImage::ImageRgba8(photo).into_rgb8();
                let name = match self.activity.get_untracked() {
                    Activity::Analysing { name } => name,
                    _ => String::new(),
                };
                let locale = self.locale();
                let mut said: Vec<String> =
                    result.analysis.issues.iter().map(|i| locale.issue(*i)).collect();
                said.push(locale.summary(&result.guidance.summary, &model.classes));
                said.push(locale.advice(result.guidance.advice));
                self.announcement.set(said.join(" "));
                let shown = Shown { reply: *result, photo, name, at: js_sys::Date::now(), model };
                self.shown.set(Some(Arc::new(shown)));
                self.activity.set(Activity::Idle);
            }
            Reply::Failed { id, message } if id == self.latest.get_untracked() => {
                self.shown.set(None);
                self.fail(Message::new("error.analysis").with("detail", message));
            }
            Reply::Analysed { .. } | Reply::Failed { .. } => {}
        }
    }
}

fn backend_choice() -> BackendChoice {
    BackendChoice::from_query(&window().location().search().unwrap_or_default())
}

/// The language to start in: one chosen on the page earlier, else the browser's.
fn initial_language() -> &'static Locale {
    let chosen = window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(LANGUAGE_KEY).ok().flatten());
    if let Some(code) = chosen.filter(|c| i18n::all().iter().any(|l| l.code == c)) {
        return i18n::get(&code);
    }
    let navigator = window().navigator();
    let mut preferred: Vec<String> =
        navigator.languages().iter().filter_map(|l| l.as_string()).collect();
    preferred.extend(navigator.language());
    i18n::negotiate(&preferred)
}

/// The document's language and title follow the page's language.
fn apply_language(locale: &Locale) {
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("lang", locale.code);
    }
    document().set_title(&locale.text("page.title"));
}

#[component]
fn LanguageSwitch() -> impl IntoView {
    let state = expect_context::<State>();
    let choose = move |ev: leptos::ev::Event| {
        let code = event_target_value(&ev);
        let locale = i18n::get(&code);
        state.lang.set(locale);
        if let Some(s) = window().local_storage().ok().flatten() {
            let _ = s.set_item(LANGUAGE_KEY, locale.code);
        }
    };
    view! {
        <label class="language">
            <span>{move || state.t("language.label")}</span>
            <select data-test="language" on:change=choose>
                {i18n::all()
                    .iter()
                    .map(|l| {
                        let code = l.code;
                        view! {
                            <option value=code lang=code selected=move || state.lang.get().code == code>
                                {l.name.clone()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
fn Footer() -> impl IntoView {
    let state = expect_context::<State>();
    view! {
        <footer>
            <p>{move || state.t("footer.privacy")}</p>
            {move || match state.model.get() {
                ModelState::Ready(ready) => {
                    let info = &ready.info;
                    view! {
                        <div class="provenance" data-test="provenance">
                            <p>
                                {state.tf(
                                    "footer.model",
                                    &[
                                        ("networks", &state.lang.get().networks(info.members.len())),
                                        ("id", &info.id),
                                        ("format", &info.format_version.to_string()),
                                        ("app", APP_VERSION),
                                    ],
                                )}
                                " "
                                <a href=MODEL_CARD data-test="model-card" type="text/markdown">
                                    {state.t("footer.model_card")}
                                </a>
                            </p>
                            <p class="provenance-text">{info.provenance.clone()}</p>
                        </div>
                    }
                    .into_any()
                }
                _ => ().into_any(),
            }}
            <p>{move || state.t("footer.not_a_device")}</p>
        </footer>
    }
}

#[component]
fn App() -> impl IntoView {
    let lang = RwSignal::new(initial_language());
    let state = State {
        lang,
        model: RwSignal::new(ModelState::Starting),
        activity: RwSignal::new(Activity::Idle),
        shown: RwSignal::new(None),
        announcement: RwSignal::new(String::new()),
        latest: RwSignal::new(0),
        update: RwSignal::new(false),
        pending: StoredValue::new_local(None),
        link: StoredValue::new_local(None),
    };
    provide_context(state);
    let history = history::HistoryState::new();
    provide_context(history);
    Effect::new(move |_| apply_language(lang.get()));
    let started = Link::start(
        move |reply, bytes| state.on_reply(reply, bytes),
        move |detail| {
            let message = Message::new("error.worker_stopped").with("detail", detail);
            state.model.set(ModelState::Failed(message.clone()));
            state.fail(message);
        },
    );
    match started {
        // The worker asks for the model once its code runs (Reply::Listening).
        Ok(link) => state.link.set_value(Some(link)),
        Err(detail) => {
            state.model.set(ModelState::Failed(Message::new("error.worker").with("detail", detail)))
        }
    }
    update::listen(state);

    view! {
        <header>
            <div class="masthead">
                <h1>"dermlens"</h1>
                <LanguageSwitch/>
            </div>
            <p class="tagline">{move || state.t("page.tagline")}</p>
            <update::UpdateBanner/>
        </header>
        <main>
            <p class="disclaimer" role="note" data-test="disclaimer">{move || state.t("disclaimer")}</p>
            <status::ModelStatus/>
            <input::PhotoInput/>
            <result::Result/>
            <history::History/>
            <p class="visually-hidden" aria-live="polite" aria-atomic="true" data-test="announcement">{move || state.announcement.get()}</p>
        </main>
        <Footer/>
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
