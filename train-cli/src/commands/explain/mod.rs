//! `dermlens explain`: a photo with the Grad-CAM heat map of one class
//! blended over it, and the ensemble's probabilities beside it, as a PNG.

mod canvas;
mod text;

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use image::imageops;
use model::analysis::{self, Analysis};
use model::classes::LesionClass;
use model::guidance::Percent;
use model::{colormap, gradcam, preprocess};

use crate::context::Context;
use canvas::Canvas;
use text::Text;

/// Write a photo with the Grad-CAM heat map of one class over it and the
/// ensemble's probabilities beside it, as a PNG.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The photo (JPEG, PNG, WebP, BMP or GIF).
    pub image: PathBuf,
    /// Bundle folder written by `dermlens export`.
    #[arg(long, default_value = "public/model")]
    pub model: PathBuf,
    /// Class to explain, by code (e.g. mel); default: the predicted class.
    #[arg(long)]
    pub class: Option<String>,
    /// Opacity of the heat map over the photo, 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    pub opacity: f32,
    /// The PNG to write.
    #[arg(long, default_value = "explain.png")]
    pub out: PathBuf,
}

const WHITE: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [34, 34, 34];

const BAR: [u8; 3] = [47, 111, 159];
const BAR_MALIGNANT: [u8; 3] = [179, 38, 30];
const TRACK: [u8; 3] = [230, 233, 237];
/// The longest side of the photo in the picture.
const MAX_SHOWN_SIDE: u32 = 1600;
/// Photos shorter than this are enlarged in the picture.
const MIN_SHOWN_HEIGHT: u32 = 360;
/// Lines of text the panel needs at most: title, seven classes, notes.
const PANEL_LINES: u32 = 13;

/// Which class to explain: the named one, or the ensemble's top class.
fn pick_class(classes: &[LesionClass], code: Option<&str>, top: usize) -> Result<usize> {
    match code {
        None => Ok(top),
        Some(code) => {
            classes.iter().position(|c| c.code.eq_ignore_ascii_case(code)).ok_or_else(|| {
                let codes: Vec<&str> = classes.iter().map(|c| c.code.as_str()).collect();
                anyhow!("'{code}' is not a class of this model (its classes: {})", codes.join(", "))
            })
        }
    }
}

/// Bars' length at text scale 1.
const BAR_WIDTH: u32 = 60;
/// The largest text scale: the panel's width grows with it.
const MAX_TEXT_SCALE: u32 = 5;
/// The font's size in pixels per em at text scale 1.
const FONT_SIZE: f32 = 9.0;

/// Width of the longest class name.
fn name_column(classes: &[LesionClass], text: &Text) -> u32 {
    classes.iter().map(|c| text.width(&c.name)).max().unwrap_or(0)
}

/// The panel: margins, names, percents, bars.
fn panel_width(classes: &[LesionClass], text: &Text, scale: u32) -> u32 {
    let rows = name_column(classes, text) + text.width("over 99%") + BAR_WIDTH * scale;
    // The gaps before, between and after the columns (6 + 2 + 3 + 6).
    rows.max(text.width("malignant classes together over 99%")) + 17 * scale
}

/// The side panel: what is explained, the sorted probabilities, warnings.
fn panel(
    canvas: &mut Canvas,
    x: i64,
    (text, scale): (&Text, u32),
    analysis: &Analysis,
    classes: &[LesionClass],
    class: usize,
) {
    let line = i64::from(text.line_height() + 3 * scale);
    let mut y = i64::from(4 * scale);
    let prediction = &analysis.prediction;
    text.draw(canvas, x, y, &format!("Grad-CAM of {}", classes[class].name), INK);
    y += line * 3 / 2;
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| prediction.probabilities[b].total_cmp(&prediction.probabilities[a]));
    let bar_width = i64::from(BAR_WIDTH * scale);
    // The names in one column, the percents (whole, as the page and
    // `predict` show them) right-aligned in the next, then the bars.
    let names = i64::from(name_column(classes, text));
    for c in order {
        let p = prediction.probabilities[c];
        text.draw(canvas, x, y, &classes[c].name, INK);
        let share = Percent::of(p).to_string();
        let right = names + i64::from(text.width("over 99%") + 2 * scale);
        text.draw(canvas, x + right - i64::from(text.width(&share)), y, &share, INK);
        let bar_x = x + right + i64::from(3 * scale);
        // The bar centred on the line's lower-case letters.
        let (bar_y, bar_height) =
            (y + i64::from(text.line_height() / 2 - scale), i64::from(5 * scale));
        canvas.fill_rect(bar_x, bar_y, bar_width, bar_height, TRACK);
        let colour = if classes[c].malignant { BAR_MALIGNANT } else { BAR };
        let filled = (bar_width as f32 * p).round() as i64;
        canvas.fill_rect(bar_x, bar_y, filled, bar_height, colour);
        y += line;
    }
    y += line / 2;
    let members = prediction.members.len();
    let agreeing = (prediction.agreement * members as f32).round() as usize;
    text.draw(canvas, x, y, &format!("{agreeing} of {members} members agree"), INK);
    y += line;
    text.draw(
        canvas,
        x,
        y,
        &format!("malignant classes together {}", Percent::of(prediction.malignant)),
        INK,
    );
    y += line;
    let mut notes = Vec::new();
    if prediction.uncertain {
        notes.push("uncertain".to_string());
    }
    if prediction.unfamiliar {
        notes.push("unlike a lesion photo".to_string());
    }
    notes.extend(analysis.issues.iter().map(|i| i.code().replace('_', " ")));
    if !notes.is_empty() {
        text.draw(canvas, x, y, &format!("warning: {}", notes.join(", ")), BAR_MALIGNANT);
    }
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let (image, class, opacity, out) =
        (&args.image, args.class.as_deref(), args.opacity, &args.out);
    if !(0.0..=1.0).contains(&opacity) {
        bail!("--opacity must be between 0 and 1, not {opacity}");
    }
    crate::files::check_output(out, &[image.as_path()])?;
    let device = &ctx.device;
    let loaded = crate::bundle_dir::load(&args.model, device)?;
    let bytes = crate::files::read_limited(image, crate::files::MAX_PHOTO_BYTES)?;
    let photo = preprocess::decode(&bytes)
        .with_context(|| format!("{} is not a usable image", image.display()))?;
    let analysis = analysis::block_on(analysis::analyse(&loaded, &photo, device))?;
    let classes = &loaded.manifest.classes;
    let class = pick_class(classes, class, analysis.prediction.top)?;

    // The picture is for looking at: a large photo is shown smaller, so its
    // size (and the memory it takes) stays bounded whatever the input.
    let shown = if photo.width().max(photo.height()) > MAX_SHOWN_SIDE {
        imageops::thumbnail(&photo, MAX_SHOWN_SIDE, MAX_SHOWN_SIDE)
    } else {
        photo
    };
    let (w, h) = shown.dimensions();
    let region = loaded.manifest.geometry.region(w, h);
    let heat = gradcam::photo_heat(&analysis.cams[class], analysis.cam_size, w, h, region);
    let mut blended = colormap::blend(&shown, &colormap::heat_layer(&heat, w, h), opacity);
    // Small photos (HAM10000's are 200x150) are shown enlarged, by a whole
    // factor, never beyond the largest side.
    let factor = (MIN_SHOWN_HEIGHT / h.max(1)).min(MAX_SHOWN_SIDE / w.max(1)).max(1);
    if factor > 1 {
        blended =
            imageops::resize(&blended, w * factor, h * factor, imageops::FilterType::Triangle);
    }
    let (w, h) = blended.dimensions();
    // Text scaled with the photo, so that it stays legible on big photos,
    // within bounds: the panel holds the classes' full names.
    let scale = (h / 180).clamp(2, MAX_TEXT_SCALE);
    let text = Text::new(FONT_SIZE * scale as f32)?;
    let panel_width = panel_width(classes, &text, scale);
    let height = h.max(PANEL_LINES * (text.line_height() + 3 * scale));
    let mut canvas = Canvas::new(w + panel_width, height, WHITE);
    canvas.draw_image(0, 0, &blended);
    panel(&mut canvas, i64::from(w + 6 * scale), (&text, scale), &analysis, classes, class);
    crate::files::write_atomic(out, &canvas.to_png()?)?;

    let guidance = model::guidance::guidance(&analysis.prediction, classes);
    println!("{}", guidance.summary);
    println!("{}", guidance.advice);
    for issue in &analysis.issues {
        println!("photo: {}", issue.message());
    }
    println!("Grad-CAM of {} written to {}", classes[class].name, out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_picked_by_code_or_default_to_the_top() {
        let classes = LesionClass::list(&model::classes::HAM10000);
        assert_eq!(pick_class(&classes, None, 5).unwrap(), 5);
        assert_eq!(pick_class(&classes, Some("MEL"), 5).unwrap(), 4);
        let error = pick_class(&classes, Some("scc"), 5).unwrap_err().to_string();
        assert!(error.contains("akiec, bcc"), "{error}");
    }
}
