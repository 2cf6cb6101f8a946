//! "Download report": one PNG drawn on a canvas in the browser, with the
//! photo, the heat map and its legend, the bars, the summary and advice,
//! the date, the model's name and version and the not-a-diagnosis note.
//! No library and no network: the canvas encodes the PNG, a link to a
//! `blob:` URL saves it. The lines drawn are kept on the button
//! (`data-report-lines`) so a test can read what the picture says.

use std::sync::Arc;
use std::time::Duration;

use image::{RgbImage, imageops};
use js_sys::{Object, Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, CanvasRenderingContext2d, HtmlAnchorElement, HtmlCanvasElement, Url};

use super::heatmap::{context_2d, image_data, legend_image, overlay};
use super::state::{APP_VERSION, ReadyModel, Shown, State};
use crate::i18n::Locale;

const WIDTH: f64 = 1000.0;
const MARGIN: f64 = 40.0;
const INK: &str = "#1c2430";
const MUTED: &str = "#55606e";
const DANGER: &str = "#9b1c1c";
const BAR: &str = "#2f6f9f";
const BAR_MALIGNANT: &str = "#b3261e";
const TRACK: &str = "#e6e9ed";
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

/// `ms` (since 1970) as a date and time in `locale`'s language.
pub fn date_time(locale: &Locale, ms: f64) -> String {
    let options = Object::new();
    let _ = Reflect::set(&options, &"dateStyle".into(), &"long".into());
    let _ = Reflect::set(&options, &"timeStyle".into(), &"short".into());
    js_sys::Date::new(&JsValue::from_f64(ms)).to_locale_string(locale.code, &options).into()
}

/// `ms` (since 1970) as a short date in `locale`'s language.
pub fn date_short(locale: &Locale, ms: f64) -> String {
    let options = Object::new();
    let _ = Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    js_sys::Date::new(&JsValue::from_f64(ms)).to_locale_string(locale.code, &options).into()
}

/// "Result of 1 July 2026 at 10:12".
pub fn dated_line(locale: &Locale, ms: f64) -> String {
    locale.format("report.dated", &[("date", &date_time(locale, ms))])
}

/// The model's name and version, and the app's.
pub fn model_line(locale: &Locale, model: &ReadyModel) -> String {
    locale.format(
        "report.model",
        &[
            ("networks", &locale.networks(model.info.members.len())),
            ("id", &model.info.id),
            ("format", &model.info.format_version.to_string()),
            ("app", APP_VERSION),
        ],
    )
}

/// Draws (or, with `paint` off, only measures) the report; the height used.
struct Pen<'a> {
    ctx: &'a CanvasRenderingContext2d,
    paint: bool,
    y: f64,
    lines: Vec<String>,
}

impl Pen<'_> {
    fn font(&self, size: f64, bold: bool) {
        self.ctx.set_font(&format!("{}{size}px {FONT}", if bold { "bold " } else { "" }));
    }

    /// Breaks `text` into lines no wider than `width` (in the current font).
    fn wrap(&self, text: &str, width: f64) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate =
                if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            let fits =
                self.ctx.measure_text(&candidate).map(|m| m.width() <= width).unwrap_or(true);
            if fits || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn text_at(&mut self, text: &str, x: f64, y: f64, color: &str) {
        if self.paint {
            self.ctx.set_fill_style_str(color);
            let _ = self.ctx.fill_text(text, x, y);
        }
        self.lines.push(text.to_string());
    }

    /// A wrapped paragraph at the left margin.
    fn paragraph(&mut self, text: &str, size: f64, bold: bool, color: &str) {
        self.font(size, bold);
        let line_height = size * 1.35;
        for line in self.wrap(text, WIDTH - 2.0 * MARGIN) {
            self.y += line_height;
            let y = self.y - size * 0.3;
            self.text_at(&line, MARGIN, y, color);
        }
        self.y += size * 0.5;
    }

    fn rect(&self, x: f64, y: f64, w: f64, h: f64, color: &str) {
        if self.paint {
            self.ctx.set_fill_style_str(color);
            self.ctx.fill_rect(x, y, w, h);
        }
    }

    fn image(&self, image: &RgbImage, x: f64, y: f64) {
        if self.paint
            && let Ok(data) = image_data(image)
        {
            let _ = self.ctx.put_image_data(&data, x, y);
        }
    }
}

/// Fits `image` in `w` x `h`, keeping its proportions.
fn fit(image: &RgbImage, w: u32, h: u32) -> RgbImage {
    let scale = (w as f64 / image.width() as f64).min(h as f64 / image.height() as f64);
    let (tw, th) = (
        ((image.width() as f64 * scale) as u32).max(1),
        ((image.height() as f64 * scale) as u32).max(1),
    );
    imageops::resize(image, tw, th, imageops::FilterType::Triangle)
}

/// The report from top to bottom.
fn layout(pen: &mut Pen, shown: &Shown, heat_class: usize, l: &Locale) {
    pen.y = MARGIN;
    pen.paragraph(&l.text("report.title"), 30.0, true, INK);
    pen.paragraph(&dated_line(l, shown.at), 16.0, false, MUTED);
    photo_and_heat(pen, shown, heat_class, l);
    legend(pen, shown, l);
    what_it_says(pen, shown, l);
    bars(pen, shown, l);
    // What it is not.
    pen.y += 8.0;
    pen.paragraph(&l.text("result.training_note"), 15.0, false, INK);
    pen.paragraph(&l.text("disclaimer"), 16.0, true, INK);
    pen.paragraph(&model_line(l, &shown.model), 13.0, false, MUTED);
    if !shown.model.info.provenance.is_empty() {
        pen.paragraph(&shown.model.info.provenance, 12.0, false, MUTED);
    }
    pen.y += MARGIN - 10.0;
}

/// The photo and the heat map side by side, each labelled.
fn photo_and_heat(pen: &mut Pen, shown: &Shown, heat_class: usize, l: &Locale) {
    let classes = &shown.model.classes;
    let half = ((WIDTH - 2.0 * MARGIN - 20.0) / 2.0) as u32;
    let photo = fit(&shown.photo, half, 360);
    let heat = fit(&overlay(shown, heat_class, 0.6), half, 360);
    let top = pen.y + 8.0;
    pen.image(&photo, MARGIN, top);
    pen.image(&heat, MARGIN + half as f64 + 20.0, top);
    pen.y = top + photo.height().max(heat.height()) as f64;
    pen.font(14.0, false);
    let class_name = classes.get(heat_class).map(|c| l.class_name(c)).unwrap_or_default();
    let y = pen.y + 20.0;
    pen.text_at(&l.text("report.photo"), MARGIN, y, MUTED);
    let heat_label = l.format("report.heat", &[("class", &class_name)]);
    pen.text_at(&heat_label, MARGIN + half as f64 + 20.0, y, MUTED);
    pen.y = y + 12.0;
}

/// The heat map's colour scale and what its cells are.
fn legend(pen: &mut Pen, shown: &Shown, l: &Locale) {
    let reply = &shown.reply;
    let scale = legend_image(256, 12);
    pen.font(14.0, false);
    let less = l.text("heatmap.legend_less");
    let less_width = pen.ctx.measure_text(&less).map(|m| m.width()).unwrap_or(40.0);
    let y = pen.y + 16.0;
    pen.text_at(&less, MARGIN, y, INK);
    pen.image(&scale, MARGIN + less_width + 8.0, y - 11.0);
    pen.text_at(&l.text("heatmap.legend_more"), MARGIN + less_width + 272.0, y, INK);
    pen.y = y + 6.0;
    let [rows, columns] = reply.analysis.cam_size;
    pen.paragraph(
        &l.format(
            "heatmap.explainer",
            &[("rows", &rows.to_string()), ("columns", &columns.to_string())],
        ),
        14.0,
        false,
        MUTED,
    );
}

/// The retake reasons, the summary, the advice, agreement and cautions.
fn what_it_says(pen: &mut Pen, shown: &Shown, l: &Locale) {
    let reply = &shown.reply;
    let classes = &shown.model.classes;
    let prediction = &reply.analysis.prediction;
    let guidance = &reply.guidance;
    pen.y += 6.0;
    for issue in &reply.analysis.issues {
        pen.paragraph(&l.issue(*issue), 16.0, true, DANGER);
    }
    if prediction.unfamiliar {
        pen.paragraph(&l.text("result.unfamiliar_title"), 16.0, true, DANGER);
    }
    pen.paragraph(&l.summary(&guidance.summary, classes), 20.0, true, INK);
    pen.paragraph(
        &l.advice(guidance.advice),
        17.0,
        guidance.see_doctor,
        if guidance.see_doctor { DANGER } else { INK },
    );
    let members = prediction.members.len();
    let agreeing = (prediction.agreement * members as f32).round() as usize;
    let mut agreement = Vec::new();
    if members > 1 {
        agreement.push(l.format(
            "result.agreement",
            &[("agreeing", &agreeing.to_string()), ("members", &members.to_string())],
        ));
    }
    if prediction.uncertain {
        agreement.push(l.text("result.uncertain"));
    }
    if !agreement.is_empty() {
        pen.paragraph(&agreement.join(" "), 16.0, false, INK);
    }
    for caution in &guidance.cautions {
        pen.paragraph(&format!("• {}", l.caution(caution)), 15.0, false, INK);
    }
}

/// One bar per class, most likely first, with the networks' range.
fn bars(pen: &mut Pen, shown: &Shown, l: &Locale) {
    let classes = &shown.model.classes;
    let prediction = &shown.reply.analysis.prediction;
    let guidance = &shown.reply.guidance;
    let members = prediction.members.len();
    pen.y += 8.0;
    pen.paragraph(&l.text("result.bars_heading"), 18.0, true, INK);
    let mut order: Vec<usize> = (0..prediction.probabilities.len()).collect();
    order.sort_by(|&a, &b| prediction.probabilities[b].total_cmp(&prediction.probabilities[a]));
    let bar_width = WIDTH - 2.0 * MARGIN;
    for c in order {
        let Some(class) = classes.get(c) else { continue };
        let p = prediction.probabilities[c];
        let [lo, hi] = guidance.ranges.get(c).copied().unwrap_or([p, p]);
        let mut name = format!("{} ({})", l.class_name(class), l.class_plain(class));
        if class.malignant {
            name = format!("{name} – {}", l.text("result.malignant_tag"));
        }
        pen.font(15.0, class.malignant);
        let y = pen.y + 18.0;
        let name_lines = pen.wrap(&name, bar_width - 200.0);
        let mut line_y = y;
        for line in &name_lines {
            pen.text_at(line, MARGIN, line_y, if class.malignant { DANGER } else { INK });
            line_y += 19.0;
        }
        pen.font(15.0, true);
        let value = l.share(p);
        let value_width = pen.ctx.measure_text(&value).map(|m| m.width()).unwrap_or(40.0);
        pen.text_at(&value, WIDTH - MARGIN - value_width, y, INK);
        let bar_y = line_y - 12.0;
        pen.rect(MARGIN, bar_y, bar_width, 10.0, TRACK);
        pen.rect(
            MARGIN,
            bar_y,
            bar_width * p as f64,
            10.0,
            if class.malignant { BAR_MALIGNANT } else { BAR },
        );
        if members > 1 {
            pen.rect(
                MARGIN + bar_width * lo as f64,
                bar_y + 11.0,
                (bar_width * (hi - lo) as f64).max(2.0),
                3.0,
                MUTED,
            );
            pen.font(13.0, false);
            let range = l.format("result.range", &[("range", &l.range(lo, hi))]);
            pen.text_at(&range, MARGIN, bar_y + 30.0, MUTED);
            pen.y = bar_y + 36.0;
        } else {
            pen.y = bar_y + 16.0;
        }
    }
}

/// The report as a canvas, and the lines of text drawn on it.
fn draw(
    shown: &Shown,
    heat_class: usize,
    l: &Locale,
) -> Result<(HtmlCanvasElement, Vec<String>), String> {
    let canvas: HtmlCanvasElement = document()
        .create_element("canvas")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "no canvas".to_string())?;
    canvas.set_width(WIDTH as u32);
    let ctx = context_2d(&canvas)?;
    let mut measure = Pen { ctx: &ctx, paint: false, y: 0.0, lines: Vec::new() };
    layout(&mut measure, shown, heat_class, l);
    canvas.set_height(measure.y.ceil() as u32);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, WIDTH, measure.y.ceil());
    ctx.set_text_baseline("alphabetic");
    let mut pen = Pen { ctx: &ctx, paint: true, y: 0.0, lines: Vec::new() };
    layout(&mut pen, shown, heat_class, l);
    Ok((canvas, pen.lines))
}

/// The canvas as a PNG.
async fn png(canvas: &HtmlCanvasElement) -> Result<Blob, String> {
    let mut failed = None;
    let promise = Promise::new(&mut |resolve, _| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::UNDEFINED, &blob);
        });
        if let Err(e) = canvas.to_blob(done.unchecked_ref()) {
            failed = Some(format!("{e:?}"));
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|b| b.dyn_into::<Blob>().ok())
        .ok_or_else(|| "the browser could not encode the picture".into())
}

/// Saves `blob` as `file_name` through a `blob:` link: nothing leaves the device.
pub fn download(blob: &Blob, file_name: &str) -> Result<(), String> {
    let url = Url::create_object_url_with_blob(blob).map_err(|e| format!("{e:?}"))?;
    let link: HtmlAnchorElement = document()
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "no link".to_string())?;
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    set_timeout(
        move || {
            let _ = Url::revoke_object_url(&url);
        },
        Duration::from_secs(60),
    );
    Ok(())
}

/// Today's date as `YYYY-MM-DD`, for file names.
pub fn file_date(ms: f64) -> String {
    String::from(js_sys::Date::new(&JsValue::from_f64(ms)).to_iso_string())
        .chars()
        .take(10)
        .collect()
}

#[component]
pub fn ReportButton(shown: Arc<Shown>, heat_class: RwSignal<usize>) -> impl IntoView {
    let state = expect_context::<State>();
    let lines = RwSignal::new(String::new());
    let failed = RwSignal::new(None::<String>);
    let make = move |_| {
        let l = state.locale();
        let shown = shown.clone();
        let result = draw(&shown, heat_class.get_untracked(), l);
        let (canvas, drawn) = match result {
            Ok(done) => done,
            Err(e) => {
                failed.set(Some(e));
                return;
            }
        };
        lines.set(serde_json::to_string(&drawn).unwrap_or_default());
        wasm_bindgen_futures::spawn_local(async move {
            let saved = match png(&canvas).await {
                Ok(blob) => {
                    download(&blob, &format!("dermlens-report-{}.png", file_date(shown.at)))
                }
                Err(e) => Err(e),
            };
            failed.set(saved.err());
        });
    };
    view! {
        <button type="button" data-test="report" data-report-lines=move || lines.get() on:click=make>
            {move || state.t("report.download")}
        </button>
        {move || failed.get().map(|e| view! { <p class="error" role="alert">{state.tf("report.failed", &[("detail", &e)])}</p> })}
    }
}
