//! The page's state and its transitions: what the model is doing, what the
//! person is doing, the result on screen; and how photos and the worker's
//! replies change them. The components import it; it imports none of them.

use std::sync::Arc;

use image::RgbImage;
use leptos::prelude::*;
use model::classes::LesionClass;
use model::crop::Crop;
use model::ensemble::Thresholds;
use model::metadata::Metadata;

use super::link::Link;
use crate::i18n::Locale;
use crate::protocol::{AnalysisReply, BackendChoice, ModelInfo, Reply, Request};

/// The app's version (the crate's), shown with the model's.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

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

/// A photo the person gave: its name, its file's bytes and the part of it
/// to analyse (the whole photo unless they cropped it).
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub name: String,
    pub bytes: Arc<Vec<u8>>,
    pub crop: Option<Crop>,
}

impl Given {
    pub fn new(name: String, bytes: Vec<u8>) -> Self {
        Self { name, bytes: Arc::new(bytes), crop: None }
    }

    /// The part `crop` of what was analysed (a crop of a crop is stated
    /// within the first), under the same name.
    pub fn cropped(&self, crop: Crop) -> Self {
        let crop = match self.crop {
            Some(outer) => crop.within(outer),
            None => crop.sanitised(),
        };
        Self { name: self.name.clone(), bytes: self.bytes.clone(), crop: Some(crop) }
    }
}

/// A result on screen: the worker's answer and the photo it analysed.
#[derive(Debug)]
pub struct Shown {
    pub reply: AnalysisReply,
    /// What was analysed, display-sized: the photo, or the part of it chosen.
    pub photo: RgbImage,
    /// The photo as given, to crop it again.
    pub given: Given,
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
    /// What the person said of age, sex and body site: kept in memory for
    /// this visit only, sent with each photo, never stored.
    pub about: RwSignal<Metadata>,
    /// The photo given before the model was ready.
    pending: StoredValue<Option<Given>, LocalStorage>,
    /// The photo the worker is analysing (the latest sent).
    sent: StoredValue<Option<Given>, LocalStorage>,
    link: StoredValue<Option<Link>, LocalStorage>,
}

impl State {
    /// The page's state before the worker has started, in `lang`.
    pub fn new(lang: &'static Locale) -> Self {
        Self {
            lang: RwSignal::new(lang),
            model: RwSignal::new(ModelState::Starting),
            activity: RwSignal::new(Activity::Idle),
            shown: RwSignal::new(None),
            announcement: RwSignal::new(String::new()),
            latest: RwSignal::new(0),
            update: RwSignal::new(false),
            about: RwSignal::new(Metadata::default()),
            pending: StoredValue::new_local(None),
            sent: StoredValue::new_local(None),
            link: StoredValue::new_local(None),
        }
    }

    /// Requests go to the worker through `link` from now on.
    pub fn connect(&self, link: Link) {
        self.link.set_value(Some(link));
    }

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

    /// Sends a photo to the worker, or keeps it until the model is ready.
    pub fn analyse(&self, given: Given) {
        match self.model.get_untracked() {
            ModelState::Ready(_) => self.send(given),
            ModelState::Failed(message) => self.fail(message),
            ModelState::Starting | ModelState::Loading { .. } => {
                // The latest photo wins; it goes to the worker once the model is ready.
                self.latest.set(self.latest.get_untracked() + 1);
                let name = given.name.clone();
                self.pending.set_value(Some(given));
                let message = Message::new("input.waiting").with("name", name.clone());
                self.announcement.set(message.render(self.locale()));
                self.activity.set(Activity::Waiting { name });
            }
        }
    }

    /// The name the page gives what it analyses: a crop is called one.
    fn label(&self, given: &Given) -> String {
        match given.crop {
            Some(_) => self.locale().format("input.cropped", &[("name", &given.name)]),
            None => given.name.clone(),
        }
    }

    fn send(&self, given: Given) {
        let id = self.latest.get_untracked() + 1;
        self.latest.set(id);
        let name = self.label(&given);
        let message = Message::new("input.analysing").with("name", name.clone());
        self.announcement.set(message.render(self.locale()));
        self.activity.set(Activity::Analysing { name });
        let request =
            Request::Analyse { id, crop: given.crop, metadata: self.about.get_untracked() };
        // The worker takes the bytes it is sent; the page keeps its copy to crop again.
        let bytes = given.bytes.as_ref().clone();
        self.sent.set_value(Some(given));
        let sent = self.link.with_value(|link| match link {
            Some(link) => link.send(&request, Some(bytes)),
            None => Err("the model worker is not running".into()),
        });
        if let Err(detail) = sent {
            self.fail(Message::new("error.worker").with("detail", detail));
        }
    }

    /// The person changed their age, sex or body site: the photo on screen
    /// is analysed again with them (nothing happens without one).
    pub fn about_changed(&self, about: Metadata) {
        if self.about.get_untracked() == about {
            return;
        }
        self.about.set(about);
        let shown = self.shown.get_untracked().map(|s| s.given.clone());
        if let (Some(given), ModelState::Ready(_)) = (shown, self.model.get_untracked()) {
            self.send(given);
        }
    }

    pub fn fail(&self, message: Message) {
        let text = message.render(self.locale());
        self.announcement.set(format!("{}: {text}", self.locale().text("error.prefix")));
        self.activity.set(Activity::Error(message));
    }

    /// The state change a reply of the worker makes.
    pub fn on_reply(&self, reply: Reply, bytes: Option<Vec<u8>>) {
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
                if let Some(given) = self.pending.try_update_value(Option::take).flatten() {
                    self.send(given);
                }
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
                let given = self.sent.get_value();
                let (Some(photo), ModelState::Ready(model), Some(given)) =
                    (photo, self.model.get_untracked(), given)
                else {
                    self.fail(Message::new("error.damaged_reply"));
                    return;
                };
                let photo = image::DynamicImage::ImageRgba8(photo).into_rgb8();
                let locale = self.locale();
                let mut said: Vec<String> =
                    result.analysis.issues.iter().map(|i| locale.issue(*i)).collect();
                said.push(locale.summary(&result.guidance.summary, &model.classes));
                said.push(locale.advice(result.guidance.advice));
                self.announcement.set(said.join(" "));
                let shown = Shown { reply: *result, photo, given, at: js_sys::Date::now(), model };
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

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use model::classes::HAM10000;

    fn state() -> State {
        State::new(crate::i18n::get("en"))
    }

    fn ready() -> Reply {
        Reply::Ready {
            backend: "CPU".into(),
            load_ms: 1.0,
            classes: LesionClass::list(&HAM10000),
            model: ModelInfo {
                members: vec!["member-0".into()],
                format_version: 3,
                id: "abc".into(),
                provenance: "test".into(),
                inputs: vec![[224, 224]],
                sites: vec!["back".into(), "face".into()],
            },
            thresholds: Thresholds::default(),
        }
    }

    fn error_key(state: &State) -> Option<&'static str> {
        match state.activity.get_untracked() {
            Activity::Error(message) => Some(message.key),
            _ => None,
        }
    }

    #[wasm_bindgen_test]
    fn a_photo_given_early_waits_for_the_model_then_goes_once() {
        let state = state();
        state.analyse(Given::new("mole.jpg".into(), vec![1, 2, 3]));
        assert_eq!(state.activity.get_untracked(), Activity::Waiting { name: "mole.jpg".into() });
        state.on_reply(Reply::Progress { loaded: 5, total: 10 }, None);
        assert_eq!(state.model.get_untracked(), ModelState::Loading { loaded: 5, total: 10 });
        assert_eq!(state.activity.get_untracked(), Activity::Waiting { name: "mole.jpg".into() });
        // Ready: the kept photo is sent (here no worker is connected: an error says so).
        state.on_reply(ready(), None);
        assert!(matches!(state.model.get_untracked(), ModelState::Ready(_)));
        assert_eq!(error_key(&state), Some("error.worker"));
        assert_eq!(state.latest.get_untracked(), 2, "sent with a new id");
        state.activity.set(Activity::Idle);
        state.on_reply(ready(), None);
        assert_eq!(state.activity.get_untracked(), Activity::Idle, "a photo is sent only once");
    }

    #[wasm_bindgen_test]
    fn a_model_that_fails_to_load_fails_the_waiting_photo_and_later_ones() {
        let state = state();
        state.analyse(Given::new("mole.jpg".into(), vec![1]));
        state.on_reply(Reply::LoadFailed { message: "no network".into() }, None);
        assert!(matches!(state.model.get_untracked(), ModelState::Failed(_)));
        assert_eq!(error_key(&state), Some("error.model_load"));
        state.activity.set(Activity::Idle);
        state.analyse(Given::new("again.jpg".into(), vec![1]));
        assert_eq!(error_key(&state), Some("error.model_load"), "no photo waits for a dead model");
    }

    #[wasm_bindgen_test]
    fn only_the_latest_photo_s_answer_counts() {
        let state = state();
        state.on_reply(ready(), None);
        state.latest.set(7);
        state.activity.set(Activity::Analysing { name: "new.jpg".into() });
        state.on_reply(Reply::Failed { id: 6, message: "old".into() }, None);
        assert_eq!(
            state.activity.get_untracked(),
            Activity::Analysing { name: "new.jpg".into() },
            "an older photo's failure is dropped"
        );
        state.on_reply(Reply::Failed { id: 7, message: "bad".into() }, None);
        assert_eq!(error_key(&state), Some("error.analysis"));
        assert!(state.shown.get_untracked().is_none());
    }

    #[wasm_bindgen_test]
    fn a_crop_of_a_cropped_photo_is_a_crop_of_the_photo() {
        let given = Given::new("mole.jpg".into(), vec![1, 2, 3]);
        let half = Crop { left: 0.5, top: 0.5, width: 0.5, height: 0.5 };
        let once = given.cropped(half);
        assert_eq!(once.crop, Some(half));
        let twice = once.cropped(half);
        assert_eq!(twice.crop, Some(Crop { left: 0.75, top: 0.75, width: 0.25, height: 0.25 }));
        assert!(Arc::ptr_eq(&given.bytes, &twice.bytes), "the photo's bytes are not copied");
        assert_eq!(twice.name, "mole.jpg");
    }

    #[wasm_bindgen_test]
    fn a_change_of_age_sex_or_site_analyses_the_shown_photo_again() {
        let state = state();
        state.on_reply(ready(), None);
        // Nothing on screen: the answers are kept for the next photo, nothing is sent.
        state.about_changed(Metadata::parse("45", "", ""));
        assert_eq!(state.latest.get_untracked(), 0);
        assert_eq!(state.about.get_untracked().age, Some(45.0));
        // The same answers again change nothing.
        state.about_changed(Metadata::parse("45", "", ""));
        assert_eq!(state.latest.get_untracked(), 0);
    }

    #[wasm_bindgen_test]
    fn a_crop_is_analysed_under_a_name_that_says_so() {
        let state = state();
        state.on_reply(ready(), None);
        let given = Given::new("mole.jpg".into(), vec![1]).cropped(Crop::WHOLE);
        assert_eq!(state.label(&given), "mole.jpg (cropped)");
        // No worker here: the send fails, but says which photo it was.
        state.analyse(given);
        assert_eq!(error_key(&state), Some("error.worker"));
    }
}
