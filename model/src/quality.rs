//! Is a photo good enough to classify? Blur, exposure and contrast checks,
//! measured on the photo as the network sees it, with plain-language advice.
//!
//! Decisions:
//! - Everything is measured on the whole frame resized to [`ANALYSIS_SIZE`]
//!   (the network's 224x224 input, no crop, with [`crate::preprocess::resize`]).
//!   The variance of the Laplacian depends strongly on resolution: a blurred
//!   12-megapixel photo shrunk 15 times looks sharp, and that is what matters,
//!   because the network only ever sees the shrunk image. Measuring there makes
//!   every number independent of the camera.
//! - Grey is Rec. 601 luma (`0.299 R + 0.587 G + 0.114 B`, 0..255), the
//!   weighting JPEG itself uses.
//! - Sharpness is the variance of the 4-neighbour Laplacian over the interior
//!   pixels (the border row and column are left out rather than padded). It
//!   grows with contrast squared, so its limit suits photos with the grey
//!   spread of skin (HAM10000's median is 26): a blurred photo of something far
//!   more contrasty can still pass. Dividing by the grey variance was tried
//!   and separated sharp from blurred HAM10000 images much worse.
//! - Clip levels are luma <= [`DARK_CLIP`] (10) and >= [`BRIGHT_CLIP`] (245),
//!   not exactly 0 and 255: JPEG ringing and sensor noise spread a clipped
//!   area over a few levels, so exact 0 / 255 would miss most of it, while
//!   a within-4%-of-the-end margin is still far outside any properly lit skin
//!   tone. Dermoscopy frames often have a black vignette outside the lens's
//!   circle, so the dark-clipped share of a good image is not always small:
//!   the default threshold allows for it.
//! - [`issues`] names the cause, not every symptom: the Laplacian scales with
//!   contrast squared, so a dark, washed-out or flat photo also measures as
//!   unsharp, and a dark or over-bright photo also has low contrast. A photo
//!   with an exposure problem is therefore not also called flat, and one with
//!   an exposure or contrast problem is not also called blurred; the person
//!   fixes the light first, and the retake is checked again.
//! - The default thresholds were chosen on the HAM10000 images (`dermlens
//!   quality`, see [`QualityThresholds::DEFAULT`]).

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::preprocess;

/// Side of the square image every measure is taken on: the network's input.
pub const ANALYSIS_SIZE: u32 = 224;
/// Luma at or below which a pixel counts as clipped to black.
pub const DARK_CLIP: f32 = 10.0;
/// Luma at or above which a pixel counts as clipped to white.
pub const BRIGHT_CLIP: f32 = 245.0;
/// The default [`QualityThresholds::max_blockiness`] (see there).
const BLOCKINESS_LIMIT: f32 = 1.8;

/// Measurements of one photo, taken on the image as the network sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityMeasures {
    /// Variance of the Laplacian of the grey image (0..255 scale): low means blurred.
    pub sharpness: f32,
    /// Standard deviation of grey levels (0..255): low means flat / washed out.
    pub contrast: f32,
    /// Mean grey level (0..255).
    pub brightness: f32,
    /// Share of pixels at or below the shadow clip level.
    pub dark_clipped: f32,
    /// Share of pixels at or above the highlight clip level.
    pub bright_clipped: f32,
    /// The light's colour: `ln(R / B)` of the shades-of-grey estimate of
    /// the light (high: warm lamp, low: cold light).
    #[serde(default)]
    pub warmth: f32,
    /// Estimated standard deviation of pixel noise (0..255, Immerkaer's
    /// method): high means grainy.
    #[serde(default)]
    pub noise: f32,
    /// Share of the frame darker than the skin around it (Otsu's split of the
    /// grey levels, a dermatoscope's black vignette left out): how much of
    /// the photo the lesion fills.
    #[serde(default)]
    pub lesion_area: f32,
    /// The photo's shorter side, in its own pixels.
    #[serde(default)]
    pub side: f32,
    /// JPEG's 8x8 blocks made visible, measured on the photo's own pixels
    /// (the block grid is lost once resized): the mean grey step across
    /// the grid's lines over the mean step elsewhere, 1 without blocks.
    #[serde(default = "no_blocks")]
    pub blockiness: f32,
}

fn no_blocks() -> f32 {
    1.0
}

impl QualityMeasures {
    /// The measures' names, in the order of [`QualityMeasures::values`]
    /// (the columns of the CLI's CSV files).
    pub const NAMES: [&'static str; 10] = [
        "sharpness",
        "contrast",
        "brightness",
        "dark_clipped",
        "bright_clipped",
        "warmth",
        "noise",
        "lesion_area",
        "side",
        "blockiness",
    ];

    pub fn values(&self) -> [f32; 10] {
        [
            self.sharpness,
            self.contrast,
            self.brightness,
            self.dark_clipped,
            self.bright_clipped,
            self.warmth,
            self.noise,
            self.lesion_area,
            self.side,
            self.blockiness,
        ]
    }
}

/// A reason to retake a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QualityIssue {
    Blurred,
    TooDark,
    TooBright,
    Flat,
    /// The light is strongly coloured (a warm lamp, cold light).
    ColourCast,
    /// Grainy: too little light for the sensor.
    Noisy,
    /// Too few pixels across the photo.
    LowResolution,
    /// The lesion fills too little of the frame.
    TooSmall,
    /// Compressed until JPEG's blocks show (a messaging app's copy).
    Compressed,
}

impl QualityIssue {
    /// Every issue, in the order [`issues`] names them.
    pub const ALL: [QualityIssue; 9] = [
        QualityIssue::TooDark,
        QualityIssue::TooBright,
        QualityIssue::ColourCast,
        QualityIssue::Flat,
        QualityIssue::Noisy,
        QualityIssue::Blurred,
        QualityIssue::LowResolution,
        QualityIssue::TooSmall,
        QualityIssue::Compressed,
    ];

    /// The issue's name in files (`predict`'s `retake` column).
    pub fn code(&self) -> &'static str {
        match self {
            QualityIssue::Blurred => "blurred",
            QualityIssue::TooDark => "too_dark",
            QualityIssue::TooBright => "too_bright",
            QualityIssue::Flat => "flat",
            QualityIssue::ColourCast => "colour_cast",
            QualityIssue::Noisy => "noisy",
            QualityIssue::LowResolution => "low_resolution",
            QualityIssue::TooSmall => "too_small",
            QualityIssue::Compressed => "compressed",
        }
    }

    /// Advice for the person taking the photo.
    pub fn message(&self) -> &'static str {
        match self {
            QualityIssue::Blurred => {
                "The photo looks blurred: hold the camera steady, let it focus, and retake it."
            }
            QualityIssue::TooDark => {
                "The photo is too dark: move to daylight or a well-lit room (or turn on more light) and retake it."
            }
            QualityIssue::TooBright => {
                "The photo is too bright or washed out: avoid direct sun and flash glare, and retake it in even light."
            }
            QualityIssue::Flat => {
                "The photo looks flat or washed out: avoid glare and direct light, clean the lens, and retake it."
            }
            QualityIssue::ColourCast => {
                "The light has a strong colour (a warm lamp or cold light): retake the photo in daylight, near a window, with coloured lamps off."
            }
            QualityIssue::Noisy => {
                "The photo is grainy because there is too little light: move to brighter light, hold steady and retake it."
            }
            QualityIssue::LowResolution => {
                "The photo has too few pixels: come closer, or use the original photo rather than a reduced copy."
            }
            QualityIssue::TooSmall => {
                "The spot is small in the photo: come closer (as close as the camera still focuses) or crop the photo around the spot."
            }
            QualityIssue::Compressed => {
                "The photo is heavily compressed (as a messaging app sends it): use the original photo from the camera, or retake it."
            }
        }
    }
}

/// Limits outside which a photo gets an issue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityThresholds {
    /// Below this Laplacian variance: [`QualityIssue::Blurred`].
    pub min_sharpness: f32,
    /// Below this grey standard deviation: [`QualityIssue::Flat`].
    pub min_contrast: f32,
    /// Above this share of black-clipped pixels: [`QualityIssue::TooDark`].
    pub max_dark_clipped: f32,
    /// Above this share of white-clipped pixels: [`QualityIssue::TooBright`].
    pub max_bright_clipped: f32,
    /// Below this mean grey level: [`QualityIssue::TooDark`].
    pub min_brightness: f32,
    /// Above this mean grey level: [`QualityIssue::TooBright`].
    pub max_brightness: f32,
    /// Outside this range of warmth: [`QualityIssue::ColourCast`].
    #[serde(default = "unbounded_below")]
    pub min_warmth: f32,
    #[serde(default = "unbounded_above")]
    pub max_warmth: f32,
    /// Above this noise level: [`QualityIssue::Noisy`].
    #[serde(default = "unbounded_above")]
    pub max_noise: f32,
    /// Below this shorter side, in pixels: [`QualityIssue::LowResolution`].
    #[serde(default)]
    pub min_side: f32,
    /// Below this lesion area: [`QualityIssue::TooSmall`].
    #[serde(default)]
    pub min_lesion_area: f32,
    /// Above this blockiness: [`QualityIssue::Compressed`].
    #[serde(default = "unbounded_above")]
    pub max_blockiness: f32,
}

fn unbounded_below() -> f32 {
    f32::MIN
}

fn unbounded_above() -> f32 {
    f32::MAX
}

impl QualityThresholds {
    /// Chosen with `dermlens quality` on the 1,501 images of the HAM10000
    /// validation part (200x150 copies), then checked on the test part and on
    /// all 10,015 images, where it flags 0.66% of the images in all (0.53% of
    /// the test part). Each limit sits in the gap between the good images
    /// and copies of them spoilt in a clearly visible way:
    /// - `min_sharpness` 2.5: good images are at 2.8 and above for 99.9%
    ///   (median 12); a Gaussian blur of sigma 2.5 px at the stored resolution
    ///   puts 99.9% of them below 2.3.
    /// - `min_contrast` 8: good images are at 7.6 and above for 99.9%, 9.3 for
    ///   99%. Contrast cut to 25% lands below 8 for only 70%: a dermoscopy
    ///   image of a faint lesion on even skin is genuinely that flat, so a
    ///   stricter limit would reject real images. Most of the rest are then
    ///   called blurred (their Laplacian drops 16-fold).
    /// - `min_brightness` 75 (was 55): `dermlens robustness` (604 validation
    ///   photos, the bundle of cf7a1e6) showed the model falling apart well
    ///   before 55: at -2 EV (median brightness 83) balanced accuracy drops
    ///   from 0.80 to 0.49, at -3 EV (median 60) to 0.21. 75 catches -3 EV
    ///   for about 90% of photos; the darkest 0.5% of good validation photos
    ///   are at 104. A lower limit would be kinder to photos of dark skin,
    ///   which HAM10000 barely has; the model knows little of them either.
    /// - `max_brightness` 210: 0.3% of good images are brighter (pale, evenly
    ///   lit skin). A gain of 3 with clipping is caught for 99.9%; a wash
    ///   towards white (0.4 x + 153, which clips almost nothing) is caught as
    ///   too bright or flat for 81%: a bright, contrasty image and a washed-out
    ///   one can have the same mean and spread.
    /// - `max_bright_clipped` 0.3: no good image has more than 27% of its
    ///   pixels blown out; a gain of 3 blows out more than 34% of 99.9%.
    /// - `max_dark_clipped` 0.5: HAM10000 frames have up to 17% of black
    ///   vignette, but a circular dermoscope field in a 4:3 frame leaves 41%
    ///   black corners, so only a frame that is mostly black is too dark.
    ///
    /// The checks added for phone photos, fitted with `dermlens robustness`
    /// on 604 validation photos (the photos CSV holds every measure):
    /// - `max_warmth` 0.8: good photos reach 0.71 (99.5th percentile; skin is
    ///   warm of itself); light of 4033 K (moderate) has a median of 0.58,
    ///   light of 2800 K (severe) 0.89 and above for 95%. Under 4033 K the
    ///   model's melanoma recall was already 0.21: colour constancy and
    ///   training under such light have to carry the moderate cast.
    /// - `min_warmth` -0.2: good photos go down to -0.07 (0.5th percentile);
    ///   cold light of 12000 K reaches -0.24 for a fifth of photos only, as
    ///   warm skin under cold light still measures warm. Cold light cost the
    ///   model up to 0.15 balanced accuracy; the check catches the worst.
    /// - `max_noise` 1.2 (Immerkaer's estimate on the 224 px analysis image):
    ///   good photos reach 0.83 (99.5th percentile), noise of sigma 4/255 at
    ///   the network's size about 0.85, sigma 8 about 1.7.
    /// - `min_side` 100 px: below that a photo has less than two thirds of
    ///   the detail of the smallest network input (160 px); HAM10000's copies
    ///   have 150.
    /// - `min_lesion_area` 0.02: the share of the frame on the dark side of
    ///   Otsu's threshold is 0.019 for the 0.5th percentile of good photos and
    ///   0.047 for the 5th; a lesion at 40% of its size (severe distance) is
    ///   below 0.04 for half the photos. Where the lesion is small Otsu often
    ///   splits skin from skin instead, so this catches only part of them.
    /// - `max_blockiness` 1.8 (on the photo's own pixels, fitted with
    ///   `dermlens quality` on the 1,501 validation photos): HAM10000's
    ///   copies are JPEGs themselves and measure 1.1 to 1.6 (0.1st to 99.9th
    ///   percentile); at JPEG quality 10 (severe) 1.9 to 4.5, so 99.7% are
    ///   flagged; the severe combined change, which ends in JPEG quality 42,
    ///   1.8 to 2.1. No validation photo is flagged. Enlarged to 800x600
    ///   and saved again (Pillow, 40 photos), quality 90 measured 1.16 to
    ///   1.35 and quality 75 (a messaging app's usual) 1.30 to 1.62: such
    ///   copies pass.
    pub const DEFAULT: QualityThresholds = QualityThresholds {
        min_sharpness: 2.5,
        min_contrast: 8.0,
        max_dark_clipped: 0.5,
        max_bright_clipped: 0.3,
        min_brightness: 75.0,
        max_brightness: 210.0,
        min_warmth: -0.2,
        max_warmth: 0.8,
        max_noise: 1.2,
        min_side: 100.0,
        min_lesion_area: 0.02,
        max_blockiness: BLOCKINESS_LIMIT,
    };
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn luma(px: &image::Rgb<u8>) -> f32 {
    0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])
}

/// Measures `image` at its own size; [`assess`] resizes to [`ANALYSIS_SIZE`] first.
pub fn measure(image: &RgbImage) -> QualityMeasures {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let n = w * h;
    if n == 0 {
        return QualityMeasures {
            sharpness: 0.0,
            contrast: 0.0,
            brightness: 0.0,
            dark_clipped: 0.0,
            bright_clipped: 0.0,
            warmth: 0.0,
            noise: 0.0,
            lesion_area: 0.0,
            side: 0.0,
            blockiness: 1.0,
        };
    }
    let grey: Vec<f32> = image.pixels().map(luma).collect();

    let (mut sum, mut sum_sq, mut dark, mut bright) = (0.0f64, 0.0f64, 0usize, 0usize);
    for &g in &grey {
        sum += f64::from(g);
        sum_sq += f64::from(g) * f64::from(g);
        dark += usize::from(g <= DARK_CLIP);
        bright += usize::from(g >= BRIGHT_CLIP);
    }
    let mean = sum / n as f64;
    let variance = (sum_sq / n as f64 - mean * mean).max(0.0);

    let (mut lap_sum, mut lap_sq, mut lap_n) = (0.0f64, 0.0f64, 0usize);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            let lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4.0 * grey[i];
            lap_sum += f64::from(lap);
            lap_sq += f64::from(lap) * f64::from(lap);
            lap_n += 1;
        }
    }
    let sharpness = if lap_n == 0 {
        0.0
    } else {
        let m = lap_sum / lap_n as f64;
        (lap_sq / lap_n as f64 - m * m).max(0.0)
    };

    let gains = preprocess::colour_constancy_gains(image, preprocess::COLOUR_CONSTANCY_P);
    QualityMeasures {
        sharpness: sharpness as f32,
        contrast: variance.sqrt() as f32,
        brightness: mean as f32,
        dark_clipped: dark as f32 / n as f32,
        bright_clipped: bright as f32 / n as f32,
        // The gains undo the light, so the light is their inverse.
        warmth: (gains[2] / gains[0]).ln(),
        noise: noise_sigma(&grey, w, h),
        lesion_area: lesion_area(&grey),
        side: w.min(h) as f32,
        blockiness: blockiness(image),
    }
}

/// The mean grey step between neighbours across JPEG's 8-pixel grid lines
/// over the mean step between the other neighbours, both rows and columns.
/// One is added to both means, so a flat photo (no steps anywhere) is 1.
///
/// Read row by row, two rows of grey at a time: a phone photo's full
/// resolution never needs a second copy of itself.
fn blockiness(image: &RgbImage) -> f32 {
    let (mut across, mut n_across, mut within, mut n_within) = (0.0f64, 0usize, 0.0f64, 0usize);
    let mut add = |step: f32, on_grid: bool| {
        if on_grid {
            across += f64::from(step.abs());
            n_across += 1;
        } else {
            within += f64::from(step.abs());
            n_within += 1;
        }
    };
    let mut above: Vec<f32> = Vec::new();
    for (y, row) in image.rows().enumerate() {
        let grey: Vec<f32> = row.map(luma).collect();
        for x in 1..grey.len() {
            add(grey[x] - grey[x - 1], x % 8 == 0);
        }
        if !above.is_empty() {
            for (g, a) in grey.iter().zip(&above) {
                add(g - a, y % 8 == 0);
            }
        }
        above = grey;
    }
    if n_across == 0 || n_within == 0 {
        return 1.0;
    }
    ((across / n_across as f64 + 1.0) / (within / n_within as f64 + 1.0)) as f32
}

/// Immerkaer's fast noise estimate (1996): the mean absolute response to a
/// mask that cancels smooth shading and edges to second order, scaled to a
/// Gaussian noise's standard deviation.
fn noise_sigma(grey: &[f32], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let mut sum = 0.0f64;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let at = |dx: usize, dy: usize| grey[(y + dy - 1) * w + x + dx - 1];
            let corners = at(0, 0) + at(2, 0) + at(0, 2) + at(2, 2);
            let sides = at(1, 0) + at(0, 1) + at(2, 1) + at(1, 2);
            sum += f64::from((corners - 2.0 * sides + 4.0 * at(1, 1)).abs());
        }
    }
    let count = ((w - 2) * (h - 2)) as f64;
    ((std::f64::consts::FRAC_PI_2).sqrt() * sum / (6.0 * count)) as f32
}

/// The share of pixels on the dark side of Otsu's threshold among those not
/// clipped to black.
fn lesion_area(grey: &[f32]) -> f32 {
    let mut histogram = [0u32; 256];
    for &g in grey.iter().filter(|&&g| g > DARK_CLIP) {
        histogram[g.round().clamp(0.0, 255.0) as usize] += 1;
    }
    let total: u32 = histogram.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let weighted: f64 = histogram.iter().enumerate().map(|(v, &c)| v as f64 * f64::from(c)).sum();
    // Otsu: the threshold with the largest variance between the two sides.
    let (mut below, mut below_sum, mut best, mut best_count) = (0u32, 0.0f64, -1.0f64, 0u32);
    for (v, &c) in histogram.iter().enumerate() {
        below += c;
        below_sum += v as f64 * f64::from(c);
        if below == 0 || below == total {
            continue;
        }
        let (wb, wf) = (f64::from(below), f64::from(total - below));
        let (mb, mf) = (below_sum / wb, (weighted - below_sum) / wf);
        let between = wb * wf * (mb - mf) * (mb - mf);
        if between > best {
            best = between;
            best_count = below;
        }
    }
    best_count as f32 / grey.len() as f32
}

/// The issues `measures` show against `thresholds`, exposure first, then
/// contrast, then blur; a symptom of an issue already listed is left out
/// (see the module notes).
pub fn issues(measures: &QualityMeasures, thresholds: &QualityThresholds) -> Vec<QualityIssue> {
    let mut found = Vec::new();
    if measures.brightness < thresholds.min_brightness
        || measures.dark_clipped > thresholds.max_dark_clipped
    {
        found.push(QualityIssue::TooDark);
    }
    if measures.brightness > thresholds.max_brightness
        || measures.bright_clipped > thresholds.max_bright_clipped
    {
        found.push(QualityIssue::TooBright);
    }
    if measures.warmth < thresholds.min_warmth || measures.warmth > thresholds.max_warmth {
        found.push(QualityIssue::ColourCast);
    }
    let exposed =
        found.iter().any(|i| matches!(i, QualityIssue::TooDark | QualityIssue::TooBright));
    if !exposed && measures.contrast < thresholds.min_contrast {
        found.push(QualityIssue::Flat);
    }
    // Noise raises the Laplacian: a grainy photo is not also called sharp
    // enough, and a sharp-looking grainy one is still grainy.
    if measures.noise > thresholds.max_noise {
        found.push(QualityIssue::Noisy);
    }
    let light_or_grain = found.iter().any(|i| *i != QualityIssue::ColourCast);
    if !light_or_grain && measures.sharpness < thresholds.min_sharpness {
        found.push(QualityIssue::Blurred);
    }
    if measures.side < thresholds.min_side {
        found.push(QualityIssue::LowResolution);
    }
    if !light_or_grain && measures.lesion_area < thresholds.min_lesion_area {
        found.push(QualityIssue::TooSmall);
    }
    if measures.blockiness > thresholds.max_blockiness {
        found.push(QualityIssue::Compressed);
    }
    found
}

/// Resize to the analysis size, measure, judge.
pub fn assess(
    image: &RgbImage,
    thresholds: &QualityThresholds,
) -> (QualityMeasures, Vec<QualityIssue>) {
    let mut measures = if image.width() == 0 || image.height() == 0 {
        measure(image)
    } else {
        measure(&preprocess::resize(image, ANALYSIS_SIZE, ANALYSIS_SIZE))
    };
    measures.side = image.width().min(image.height()) as f32;
    // JPEG's grid is in the photo's own pixels: measured before resizing.
    measures.blockiness = blockiness(image);
    let found = issues(&measures, thresholds);
    (measures, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, imageops};

    const T: QualityThresholds = QualityThresholds::DEFAULT;

    fn checkerboard(w: u32, h: u32, square: u32, dark: u8, light: u8) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            // Shifted by 3 px: no edge on JPEG's 8-pixel grid, where a
            // pattern of hard edges would measure as blocky.
            let v =
                if ((x + 3) / square + (y + 3) / square).is_multiple_of(2) { dark } else { light };
            Rgb([v, v.saturating_sub(20), v.saturating_sub(30)])
        })
    }

    /// A skin-like scene drawn directly at any size: a soft-edged dark spot
    /// on a gently textured background, defined in frame coordinates.
    fn scene(w: u32, h: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            let (u, v) = ((x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32);
            let texture = 18.0
                * (std::f32::consts::TAU * 7.0 * u).sin()
                * (std::f32::consts::TAU * 5.0 * v).sin();
            let r = ((u - 0.55).powi(2) + ((v - 0.5) * 0.75).powi(2)).sqrt();
            // 0 inside the spot, 1 outside, over 1% of the frame width.
            let edge = ((r - 0.2) / 0.01 + 0.5).clamp(0.0, 1.0);
            let grey = 95.0 + 75.0 * edge + texture;
            Rgb([(grey + 25.0) as u8, grey as u8, (grey - 20.0) as u8])
        })
    }

    #[test]
    fn a_sharp_checkerboard_passes_and_blurred_is_flagged() {
        // Squares 50 levels apart: a grey spread (25) like a typical skin photo's.
        // The Laplacian scales with contrast squared, so a far more contrasty
        // pattern would need a stronger blur to fall below the limit.
        let sharp = checkerboard(224, 224, 28, 120, 170);
        let (m, found) = assess(&sharp, &T);
        assert!(found.is_empty(), "{found:?} {m:?}");
        assert!(m.sharpness > 100.0 * T.min_sharpness, "{m:?}");

        let blurred = imageops::blur(&sharp, 4.0);
        let (m, found) = assess(&blurred, &T);
        assert_eq!(found, vec![QualityIssue::Blurred], "{m:?}");

        // The same at phone-photo size: blur judged as the network sees it.
        let photo = checkerboard(800, 600, 100, 120, 170);
        assert!(assess(&photo, &T).1.is_empty());
        let (m, found) = assess(&imageops::blur(&photo, 14.0), &T);
        assert_eq!(found, vec![QualityIssue::Blurred], "{m:?}");
    }

    #[test]
    fn black_is_too_dark_and_white_too_bright_and_nothing_else() {
        let (m, found) = assess(&ImageBuffer::from_pixel(300, 200, Rgb([0, 0, 0])), &T);
        assert_eq!(found, vec![QualityIssue::TooDark]);
        assert_eq!((m.brightness, m.dark_clipped, m.sharpness), (0.0, 1.0, 0.0));
        let (m, found) = assess(&ImageBuffer::from_pixel(300, 200, Rgb([255, 255, 255])), &T);
        assert_eq!(found, vec![QualityIssue::TooBright]);
        assert!((m.brightness - 255.0).abs() < 0.01 && m.bright_clipped == 1.0, "{m:?}");
        // A darkened and an over-exposed checkerboard.
        let board = checkerboard(224, 224, 16, 60, 190);
        let dark =
            ImageBuffer::from_fn(224, 224, |x, y| Rgb(board.get_pixel(x, y).0.map(|v| v / 4)));
        assert_eq!(assess(&dark, &T).1, vec![QualityIssue::TooDark]);
        let bright = ImageBuffer::from_fn(224, 224, |x, y| {
            Rgb(board.get_pixel(x, y).0.map(|v| v.saturating_mul(3)))
        });
        assert_eq!(assess(&bright, &T).1, vec![QualityIssue::TooBright]);
    }

    #[test]
    fn uniform_grey_and_low_contrast_are_flat() {
        let (m, found) = assess(&ImageBuffer::from_pixel(400, 300, Rgb([128, 128, 128])), &T);
        assert_eq!(found, vec![QualityIssue::Flat], "{m:?}");
        assert_eq!((m.contrast, m.sharpness), (0.0, 0.0));
        // A sharp pattern with its contrast cut: flat, not called blurred.
        let (m, found) = assess(&checkerboard(224, 224, 16, 120, 132), &T);
        assert_eq!(found, vec![QualityIssue::Flat], "{m:?}");
    }

    #[test]
    fn measures_do_not_depend_on_resolution() {
        let small = assess(&scene(400, 300), &T);
        let large = assess(&scene(2400, 1800), &T);
        assert!(small.1.is_empty() && large.1.is_empty(), "{small:?} {large:?}");
        let (a, b) = (small.0, large.0);
        assert!((a.sharpness / b.sharpness - 1.0).abs() < 0.2, "{a:?} vs {b:?}");
        assert!(
            (a.contrast - b.contrast).abs() < 1.0 && (a.brightness - b.brightness).abs() < 1.0,
            "{a:?} vs {b:?}"
        );
        // Measured at their own size the two would disagree many times over.
        let raw = (measure(&scene(400, 300)).sharpness, measure(&scene(2400, 1800)).sharpness);
        assert!(raw.0 > 5.0 * raw.1, "{raw:?}");
    }

    #[test]
    fn measures_on_known_pixels() {
        // Two columns, 0 and 100 grey: mean 50, std 50, no interior pixels.
        let image: RgbImage = ImageBuffer::from_fn(2, 2, |x, _| Rgb([(x * 100) as u8; 3]));
        let m = measure(&image);
        assert!((m.brightness - 50.0).abs() < 1e-3 && (m.contrast - 50.0).abs() < 1e-3, "{m:?}");
        assert_eq!((m.sharpness, m.dark_clipped, m.bright_clipped), (0.0, 0.5, 0.0));
        // Rec. 601 weights: pure green is brighter than pure red, red than blue.
        let grey = |c: [u8; 3]| measure(&ImageBuffer::from_pixel(3, 3, Rgb(c))).brightness;
        assert!(grey([0, 255, 0]) > grey([255, 0, 0]) && grey([255, 0, 0]) > grey([0, 0, 255]));
        assert!((grey([0, 255, 0]) - 149.685).abs() < 0.01);
        // A single bright dot: Laplacian -4A at it and A at its 4 neighbours.
        let mut dot = RgbImage::new(5, 5);
        dot.put_pixel(2, 2, Rgb([100; 3]));
        let lap = [-400.0f64, 100.0, 100.0, 100.0, 100.0, 0.0, 0.0, 0.0, 0.0];
        let mean = lap.iter().sum::<f64>() / 9.0;
        let var = lap.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 9.0;
        assert!((f64::from(measure(&dot).sharpness) - var).abs() < 0.01);
        // Empty images do not panic.
        assert_eq!(
            assess(&RgbImage::new(0, 0), &T).1,
            vec![QualityIssue::TooDark, QualityIssue::LowResolution]
        );
    }

    #[test]
    fn phone_photos_are_caught_for_what_spoils_them() {
        use crate::degrade::{Degradation, Kind, Severity};
        let photo = scene(400, 300);
        assert!(assess(&photo, &T).1.is_empty(), "{:?}", assess(&photo, &T));
        let severe = |kind| Degradation::at(kind, Severity::Severe).apply(&photo, 1);
        for (kind, issue) in [
            (Kind::WarmLight, QualityIssue::ColourCast),
            (Kind::Dim, QualityIssue::TooDark),
            (Kind::Noise, QualityIssue::Noisy),
            (Kind::Defocus, QualityIssue::Blurred),
        ] {
            let (m, found) = assess(&severe(kind), &T);
            assert!(found.contains(&issue), "{kind}: {found:?} {m:?}");
        }
        // The light's colour is measured as warmth (cold light on warm skin
        // can stay within the limit: see `QualityThresholds::DEFAULT`).
        let (warm, cool) =
            (assess(&severe(Kind::WarmLight), &T).0, assess(&severe(Kind::CoolLight), &T).0);
        let neutral = assess(&photo, &T).0;
        assert!(warm.warmth > neutral.warmth + 0.5 && cool.warmth < neutral.warmth - 0.3);
        // Noise is measured as a standard deviation: the grain of sigma 12
        // (severe) measures near it on a smooth photo.
        let grey = RgbImage::from_pixel(224, 224, Rgb([150, 120, 100]));
        let noisy = Degradation::at(Kind::Noise, Severity::Severe).apply(&grey, 3);
        let sigma = measure(&noisy).noise;
        assert!((9.0..14.0).contains(&sigma), "{sigma}");
        assert!(measure(&grey).noise < 0.01);
        // A small photo, and a small lesion.
        let (_, found) = assess(&scene(80, 60), &T);
        assert_eq!(found, vec![QualityIssue::LowResolution]);
        let far = ImageBuffer::from_fn(400, 300, |x, y| {
            let r = (x as f32 - 200.0).hypot(y as f32 - 150.0);
            if r < 25.0 { Rgb([70, 50, 40]) } else { Rgb([215, 180, 160]) }
        });
        let (m, found) = assess(&far, &T);
        assert_eq!(found, vec![QualityIssue::TooSmall], "{m:?}");
        // pi 25^2 of 400 x 300 pixels.
        assert!((m.lesion_area - 0.0164).abs() < 0.002, "{m:?}");
        // JPEG at quality 10 shows its blocks; the clean photo has none, and
        // resizing a blocky copy hides them (the grid is gone).
        let blocky = severe(Kind::Jpeg);
        let (m, found) = assess(&blocky, &T);
        assert!(found.contains(&QualityIssue::Compressed), "{found:?} {m:?}");
        assert!((assess(&photo, &T).0.blockiness - 1.0).abs() < 0.1);
        let shifted = imageops::crop_imm(&blocky, 4, 4, 392, 292).to_image();
        assert!(assess(&shifted, &T).0.blockiness < m.blockiness);
    }

    #[test]
    fn every_issue_has_advice_and_serialises() {
        for issue in QualityIssue::ALL {
            assert!(issue.message().len() > 30 && issue.message().ends_with('.'));
            let json = serde_json::to_string(&issue).unwrap();
            assert_eq!(serde_json::from_str::<QualityIssue>(&json).unwrap(), issue);
        }
        assert_eq!(QualityThresholds::default(), QualityThresholds::DEFAULT);
        let t: QualityThresholds =
            serde_json::from_str(&serde_json::to_string(&T).unwrap()).unwrap();
        assert_eq!(t, T);
    }
}
