//! What frames the page: the language switch (with the language the page
//! starts in) and the footer with the model's provenance.

use leptos::prelude::*;

use super::state::{APP_VERSION, ModelState, State};
use crate::i18n::{self, Locale};
use crate::protocol::MODEL_CARD;

/// The `localStorage` key of a language the person chose on the page.
const LANGUAGE_KEY: &str = "dermlens.language";

/// The language to start in: one chosen on the page earlier, else the browser's.
pub fn initial_language() -> &'static Locale {
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
pub fn apply_language(locale: &Locale) {
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("lang", locale.code);
    }
    document().set_title(&locale.text("page.title"));
}

#[component]
pub fn LanguageSwitch() -> impl IntoView {
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
pub fn Footer() -> impl IntoView {
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
