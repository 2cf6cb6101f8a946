//! The optional questions: age, sex and where on the body the spot is.
//! Asked only when the model has a prior for them; the answers stay in
//! memory for this visit, go with each photo to the worker on this device,
//! and are never stored. Changing one analyses the photo on screen again.

use leptos::ev;
use leptos::prelude::*;
use model::metadata::{Metadata, Sex};
use web_sys::{HtmlInputElement, HtmlSelectElement};

use super::state::{ModelState, State};

/// The body sites the model knows, when it asks at all.
fn sites(state: State) -> Option<Vec<String>> {
    match state.model.get() {
        ModelState::Ready(model) if !model.info.sites.is_empty() => Some(model.info.sites.clone()),
        _ => None,
    }
}

#[component]
pub fn AboutPerson() -> impl IntoView {
    let state = expect_context::<State>();
    let age = move |ev: ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let age = Metadata::parse(&input.value(), "", "").age;
        state.about_changed(Metadata { age, ..state.about.get_untracked() });
    };
    let sex = move |ev: ev::Event| {
        let select: HtmlSelectElement = event_target(&ev);
        let sex = Sex::parse(&select.value());
        state.about_changed(Metadata { sex, ..state.about.get_untracked() });
    };
    let site = move |ev: ev::Event| {
        let select: HtmlSelectElement = event_target(&ev);
        let site = Metadata::parse("", "", &select.value()).site;
        state.about_changed(Metadata { site, ..state.about.get_untracked() });
    };
    move || {
        let sites = sites(state)?;
        let l = state.lang.get();
        // Redrawn on a language switch: the answers given are kept.
        let given = state.about.get_untracked();
        let age_text = given.age.map(|a| format!("{a:.0}")).unwrap_or_default();
        let options = sites
            .into_iter()
            .map(|s| {
                let label = l.site(&s);
                let chosen = given.site.as_deref() == Some(s.as_str());
                view! { <option value=s.clone() selected=chosen>{label}</option> }
            })
            .collect_view();
        Some(view! {
            <details class="about no-print" data-test="about">
                <summary>{l.text("about.heading")}</summary>
                <p>{l.text("about.why")}</p>
                <div class="fields">
                    <label>
                        {l.text("about.age")}
                        <input type="number" min="0" max="120" step="1" inputmode="numeric" data-test="age" value=age_text on:change=age/>
                    </label>
                    <label>
                        {l.text("about.sex")}
                        <select data-test="sex" on:change=sex>
                            <option value="">{l.text("about.not_said")}</option>
                            <option value="female" selected=given.sex == Some(Sex::Female)>{l.text("about.female")}</option>
                            <option value="male" selected=given.sex == Some(Sex::Male)>{l.text("about.male")}</option>
                        </select>
                    </label>
                    <label>
                        {l.text("about.site")}
                        <select data-test="site" on:change=site>
                            <option value="">{l.text("about.not_said")}</option>
                            {options}
                        </select>
                    </label>
                </div>
            </details>
        })
    }
}
