//! The page: model status, photo input, result, the spot history. The
//! state and its transitions live in [`state`]; the components read and
//! change it; the worker link turns replies into state changes. Every text
//! comes from the current language's table ([`crate::i18n`]).

mod about;
mod chrome;
mod crop;
mod heatmap;
mod history;
mod input;
mod link;
mod report;
mod result;
mod slider;
mod state;
mod status;
mod store;
mod update;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use link::Link;
use state::{Message, ModelState, State};

#[component]
fn App() -> impl IntoView {
    let state = State::new(chrome::initial_language());
    let lang = state.lang;
    provide_context(state);
    let history = history::HistoryState::new();
    provide_context(history);
    Effect::new(move |_| chrome::apply_language(lang.get()));
    // Once the model is ready, the service worker may cache the site.
    let installed = StoredValue::new(false);
    Effect::new(move |_| {
        if matches!(state.model.get(), ModelState::Ready(_)) && !installed.get_value() {
            installed.set_value(true);
            update::install();
            update::check_soon();
        }
    });
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
        Ok(link) => state.connect(link),
        Err(detail) => {
            state.model.set(ModelState::Failed(Message::new("error.worker").with("detail", detail)))
        }
    }
    update::listen(state);

    view! {
        <header>
            <div class="masthead">
                <h1>"dermlens"</h1>
                <chrome::LanguageSwitch/>
            </div>
            <p class="tagline">{move || state.t("page.tagline")}</p>
            <update::UpdateBanner/>
        </header>
        <main>
            <p class="disclaimer" role="note" data-test="disclaimer">{move || state.t("disclaimer")}</p>
            <status::ModelStatus/>
            <input::PhotoInput/>
            <about::AboutPerson/>
            <result::Result/>
            <history::History/>
            <p class="visually-hidden" aria-live="polite" aria-atomic="true" data-test="announcement">{move || state.announcement.get()}</p>
        </main>
        <chrome::Footer/>
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
