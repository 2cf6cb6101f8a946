//! Every string the page shows, from one table per language:
//! `app/locales/<code>.json`, a flat object of `"key": "text"` with
//! `{name}` placeholders. Adding a language is adding one such file (the
//! build script compiles in every file of that folder); English is the
//! reference every other table must match key for key (a unit test checks).
//!
//! The model's values (percents, advice kinds, cautions, photo issues) are
//! worded here, so no English leaks into another language.

use std::collections::HashMap;
use std::sync::OnceLock;

use model::classes::LesionClass;
use model::guidance::{Advice, Caution, Percent, Summary};
use model::quality::QualityIssue;

mod sources {
    include!(concat!(env!("OUT_DIR"), "/locales.rs"));
}

/// The reference language, and the fallback for missing keys.
pub const DEFAULT: &str = "en";

#[derive(Debug)]
pub struct Locale {
    /// The language code, e.g. `de` (the file name).
    pub code: &'static str,
    /// The language's own name, e.g. "Deutsch" (key `language.name`).
    pub name: String,
    strings: HashMap<String, String>,
}

/// Every language, English first, then by code.
pub fn all() -> &'static [Locale] {
    static ALL: OnceLock<Vec<Locale>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut locales: Vec<Locale> = sources::SOURCES
            .iter()
            .filter_map(|(code, text)| match parse(code, text) {
                Ok(locale) => Some(locale),
                Err(e) => {
                    // A broken table must not take the page down: it is left out
                    // (and the unit tests fail on it).
                    eprintln!("locale {code}: {e}");
                    None
                }
            })
            .collect();
        locales.sort_by_key(|l| (l.code != DEFAULT, l.code));
        locales
    })
}

fn parse(code: &'static str, text: &str) -> Result<Locale, String> {
    let strings: HashMap<String, String> =
        serde_json::from_str(text).map_err(|e| format!("not a flat JSON object of texts: {e}"))?;
    let name = strings.get("language.name").cloned().ok_or("no language.name")?;
    Ok(Locale { code, name, strings })
}

/// The locale with `code`, or English.
pub fn get(code: &str) -> &'static Locale {
    let all = all();
    all.iter().find(|l| l.code == code).or_else(|| all.first()).unwrap_or_else(|| {
        static EMPTY: OnceLock<Locale> = OnceLock::new();
        EMPTY.get_or_init(|| Locale {
            code: DEFAULT,
            name: "English".into(),
            strings: HashMap::new(),
        })
    })
}

/// The first of the browser's `preferred` languages (`de-AT`, `en-GB`, …)
/// that the page has, by its primary code; English otherwise.
pub fn negotiate<S: AsRef<str>>(preferred: &[S]) -> &'static Locale {
    preferred
        .iter()
        .find_map(|tag| {
            let primary = tag.as_ref().split(['-', '_']).next()?.to_ascii_lowercase();
            all().iter().find(|l| l.code == primary)
        })
        .unwrap_or_else(|| get(DEFAULT))
}

/// Replaces `{name}` placeholders with their values.
fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl Locale {
    /// A body site's name ("back", "lower extremity") in this language;
    /// a site the table does not know is shown as the model names it.
    pub fn site(&self, site: &str) -> String {
        self.strings.get(&format!("site.{site}")).cloned().unwrap_or_else(|| site.to_string())
    }

    fn lookup(&self, key: &str) -> Option<&str> {
        self.strings.get(key).or_else(|| get(DEFAULT).strings.get(key)).map(String::as_str)
    }

    /// The text for `key` (English when this table lacks it; the key in
    /// brackets when no table has it, so a gap is visible and testable).
    pub fn text(&self, key: &str) -> String {
        self.lookup(key).map(str::to_string).unwrap_or_else(|| format!("⟦{key}⟧"))
    }

    /// The text for `key` with its placeholders filled.
    pub fn format(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.text(key), args)
    }

    pub fn percent(&self, p: Percent) -> String {
        match p {
            Percent::Under1 => self.text("percent.under1"),
            Percent::Over99 => self.text("percent.over99"),
            Percent::Whole(v) => self.format("percent.whole", &[("n", &v.to_string())]),
        }
    }

    /// A probability (0..1) as a whole percent.
    pub fn share(&self, p: f32) -> String {
        self.percent(Percent::of(p))
    }

    /// The range `lo`–`hi` of whole percents (one value when both round
    /// alike; "up to 3%" rather than "under 1%–3%", "98% or more" rather
    /// than "98%–over 99%").
    pub fn range(&self, lo: f32, hi: f32) -> String {
        let (a, b) = (Percent::of(lo), Percent::of(hi));
        match (a, b) {
            _ if a == b => self.percent(a),
            (Percent::Under1, _) => self.format("percent.up_to", &[("high", &self.percent(b))]),
            (_, Percent::Over99) => self.format("percent.at_least", &[("low", &self.percent(a))]),
            _ => self
                .format("percent.range", &[("low", &self.percent(a)), ("high", &self.percent(b))]),
        }
    }

    fn class_text(&self, class: &LesionClass, part: &str, fallback: &str) -> String {
        self.lookup(&format!("class.{}.{part}", class.code))
            .map(str::to_string)
            .unwrap_or_else(|| fallback.to_string())
    }

    /// The medical name of `class` (the bundle's name for classes the table lacks).
    pub fn class_name(&self, class: &LesionClass) -> String {
        self.class_text(class, "name", &class.name)
    }

    /// The plain name of `class`.
    pub fn class_plain(&self, class: &LesionClass) -> String {
        self.class_text(class, "plain", &class.plain)
    }

    /// The class's name as the summary sentence needs it (with an article where the language has one).
    fn class_in_summary(&self, class: &LesionClass) -> String {
        self.class_text(class, "in_summary", &class.name)
    }

    pub fn summary(&self, summary: &Summary, classes: &[LesionClass]) -> String {
        let fallback = LesionClass {
            code: summary.code.clone(),
            name: summary.name.clone(),
            plain: summary.plain.clone(),
            malignant: false,
        };
        let class = classes.get(summary.class).unwrap_or(&fallback);
        self.format(
            "summary",
            &[
                ("class", &self.class_in_summary(class)),
                ("plain", &self.class_plain(class)),
                ("probability", &self.percent(summary.probability)),
                ("malignant", &self.percent(summary.malignant)),
            ],
        )
    }

    pub fn advice(&self, advice: Advice) -> String {
        self.text(match advice {
            Advice::MalignantLikely => "advice.malignant_likely",
            Advice::Uncertain => "advice.uncertain",
            Advice::Unfamiliar => "advice.unfamiliar",
            Advice::Reassuring => "advice.reassuring",
        })
    }

    pub fn caution(&self, caution: &Caution) -> String {
        match caution {
            Caution::Disagreement { agreeing, members } => self.format(
                "caution.disagreement",
                &[("agreeing", &agreeing.to_string()), ("members", &members.to_string())],
            ),
            Caution::LowConfidence { top, needed } => self.format(
                "caution.low_confidence",
                &[("top", &self.percent(*top)), ("needed", &self.percent(*needed))],
            ),
            Caution::Unfamiliar => self.text("caution.unfamiliar"),
            Caution::Unsure => self.text("caution.unsure"),
        }
    }

    pub fn issue(&self, issue: QualityIssue) -> String {
        self.text(&format!("issue.{}", issue.code()))
    }

    /// Megabytes with one decimal, in this language's notation.
    pub fn megabytes(&self, bytes: u64) -> String {
        let text = format!("{:.1}", bytes as f64 / 1e6);
        let text = text.replace('.', &self.text("number.decimal"));
        self.format("unit.megabytes", &[("n", &text)])
    }

    /// Seconds with one decimal, in this language's notation.
    pub fn seconds(&self, ms: f64) -> String {
        let text = format!("{:.1}", ms / 1000.0).replace('.', &self.text("number.decimal"));
        self.format("unit.seconds", &[("n", &text)])
    }

    /// "1 network", "3 networks".
    pub fn networks(&self, n: usize) -> String {
        if n == 1 {
            self.text("unit.networks_one")
        } else {
            self.format("unit.networks", &[("n", &n.to_string())])
        }
    }

    /// Every key of this table (for the tests).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.strings.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::classes::HAM10000;

    fn placeholders(text: &str) -> Vec<String> {
        let mut found: Vec<String> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn every_table_parses_and_english_and_german_exist() {
        assert_eq!(all().len(), sources::SOURCES.len(), "a locale file does not parse");
        assert_eq!(all()[0].code, "en");
        assert!(all().iter().any(|l| l.code == "de"));
    }

    #[test]
    fn every_language_has_exactly_the_english_keys_and_placeholders() {
        let english = get("en");
        for locale in all() {
            for key in english.keys() {
                let text = locale.strings.get(key);
                assert!(text.is_some(), "{}: missing {key}", locale.code);
                assert_eq!(
                    placeholders(text.map(String::as_str).unwrap_or_default()),
                    placeholders(&english.strings[key]),
                    "{}: placeholders of {key}",
                    locale.code
                );
            }
            for key in locale.keys() {
                assert!(
                    english.strings.contains_key(key),
                    "{}: {key} is not in English",
                    locale.code
                );
            }
        }
    }

    #[test]
    fn every_photo_check_says_what_to_do_in_every_language() {
        for locale in all() {
            for issue in model::quality::QualityIssue::ALL {
                let key = format!("issue.{}", issue.code());
                let text = locale.strings.get(&key);
                assert!(text.is_some_and(|t| t.len() > 30), "{}: missing {key}", locale.code);
            }
        }
    }

    #[test]
    fn every_known_class_is_named_in_every_language() {
        for locale in all() {
            for class in LesionClass::list(&HAM10000) {
                for part in ["name", "plain", "in_summary"] {
                    let key = format!("class.{}.{part}", class.code);
                    assert!(locale.strings.contains_key(&key), "{}: missing {key}", locale.code);
                }
            }
        }
    }

    #[test]
    fn the_browser_language_picks_the_table() {
        assert_eq!(negotiate(&["de-AT", "en"]).code, "de");
        assert_eq!(negotiate(&["fr-FR", "de"]).code, "de");
        assert_eq!(negotiate(&["fr-FR"]).code, "en");
        assert_eq!(negotiate::<&str>(&[]).code, "en");
        assert_eq!(get("xx").code, "en");
    }

    #[test]
    fn percents_and_guidance_are_worded() {
        let en = get("en");
        let de = get("de");
        assert_eq!(en.share(0.0), "under 1%");
        assert_eq!(en.share(0.999), "over 99%");
        assert_eq!(en.share(0.42), "42%");
        assert_eq!(de.share(0.42), "42 %");
        assert_eq!(en.range(0.1, 0.3), "10%–30%");
        assert_eq!(en.range(0.101, 0.099), "10%");
        assert_eq!(en.range(0.002, 0.012), "up to 1%");
        assert_eq!(de.range(0.97, 0.999), "97 % oder mehr");
        assert!(!de.share(1.0).contains("100"));
        let classes = LesionClass::list(&HAM10000);
        let summary = Summary {
            class: 5,
            code: "nv".into(),
            name: "Melanocytic nevus".into(),
            plain: "common mole".into(),
            probability: Percent::Whole(82),
            malignant: Percent::Whole(8),
        };
        assert_eq!(
            en.summary(&summary, &classes),
            "Most similar to a melanocytic nevus (common mole), 82%; 8% chance of a malignant class."
        );
        assert!(de.summary(&summary, &classes).contains("82 %"));
        assert_eq!(en.advice(Advice::Uncertain), Advice::Uncertain.to_string());
        assert_eq!(en.megabytes(9_712_345), "9.7 MB");
        assert_eq!(de.megabytes(9_712_345), "9,7 MB");
        assert_eq!(en.networks(1), "1 network");
        assert_eq!(de.networks(3), "3 Netze");
        // A class the tables do not know keeps the bundle's names.
        let odd = LesionClass::from_code("freckle", None);
        assert_eq!(de.class_name(&odd), "freckle");
    }
}
