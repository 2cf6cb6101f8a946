//! Phone-like degradations of a photo: the ways a patient's phone photo
//! differs from a dermatoscope image. One definition serves the robustness
//! benchmark (`dermlens robustness`) and training's augmentation, so what
//! the model learns to survive is what it is measured on.
//!
//! Decisions:
//! - Each degradation has a strength in `[0, 1]` (0 changes nothing). The
//!   benchmark's severities are mild (1/3), moderate (2/3) and severe (1);
//!   training draws strengths at random.
//! - Sizes (blur, motion, resolution, noise) are given for a photo whose
//!   shorter side is [`REFERENCE_SIDE`] (the network's view) and scaled to
//!   the photo's own, so a 600x450 original and its 200x150 copy are spoilt
//!   alike as the network sees them.
//! - Light is changed in linear light (sRGB taken as gamma 2.2): a lamp's
//!   colour and an exposure multiply the light, not the stored values.
//! - Deterministic: a seed fixes the noise, a motion's direction and the
//!   skin texture around a distant lesion.

use image::{Rgb, RgbImage, imageops};
use serde::{Deserialize, Serialize};

use crate::preprocess;
use crate::rng::Rng;

/// The shorter side, in pixels, at which sizes are stated.
pub const REFERENCE_SIDE: f32 = 224.0;
/// The colour temperature of the light the training photos were taken in.
pub const NEUTRAL_KELVIN: f32 = 6500.0;

/// One way a phone photo differs from a dermatoscope image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A warm household lamp, the camera's white balance not correcting it.
    WarmLight,
    /// Cold light (shade, a blue screen, cool LEDs).
    CoolLight,
    /// A dim room: under-exposed.
    Dim,
    /// Too much light: over-exposed, highlights clipped.
    Overexposed,
    /// Sensor noise (high ISO).
    Noise,
    /// A messaging app's JPEG recompression.
    Jpeg,
    /// Out of focus.
    Defocus,
    /// A shaking hand.
    Motion,
    /// Fewer pixels on the lesion than the network's view has.
    LowResolution,
    /// Taken from further away: the lesion smaller in the frame, skin around it.
    Distance,
    /// A realistic mix: warm light, distance, slight defocus, dim light, noise and JPEG.
    Combined,
}

impl Kind {
    /// Every kind, in the benchmark's order.
    pub const ALL: [Kind; 11] = [
        Kind::WarmLight,
        Kind::CoolLight,
        Kind::Dim,
        Kind::Overexposed,
        Kind::Noise,
        Kind::Jpeg,
        Kind::Defocus,
        Kind::Motion,
        Kind::LowResolution,
        Kind::Distance,
        Kind::Combined,
    ];

    /// The kind's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WarmLight => "warm-light",
            Kind::CoolLight => "cool-light",
            Kind::Dim => "dim",
            Kind::Overexposed => "overexposed",
            Kind::Noise => "noise",
            Kind::Jpeg => "jpeg",
            Kind::Defocus => "defocus",
            Kind::Motion => "motion",
            Kind::LowResolution => "low-resolution",
            Kind::Distance => "distance",
            Kind::Combined => "combined",
        }
    }

    /// The kind named `name` (as [`Kind::name`] writes it).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the kind does at `strength`, with its physical measure.
    pub fn describe(self, strength: f32) -> String {
        let s = strength.clamp(0.0, 1.0);
        match self {
            Kind::WarmLight => format!("light of {:.0} K", warm_kelvin(s)),
            Kind::CoolLight => format!("light of {:.0} K", cool_kelvin(s)),
            Kind::Dim => format!("{:+.1} EV", dim_ev(s)),
            Kind::Overexposed => format!("{:+.1} EV, clipped", over_ev(s)),
            Kind::Noise => format!("noise sigma {:.0}/255", noise_sigma(s)),
            Kind::Jpeg => format!("JPEG quality {}", jpeg_quality(s)),
            Kind::Defocus => format!("Gaussian blur sigma {:.1} px", defocus_sigma(s)),
            Kind::Motion => format!("motion blur {:.0} px", motion_length(s)),
            Kind::LowResolution => format!("{:.0} px across", low_resolution_side(s)),
            Kind::Distance => format!("lesion at {:.0}% of its size", distance_scale(s) * 100.0),
            Kind::Combined => COMBINED
                .iter()
                .map(|&(k, share)| k.describe(s * share))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The benchmark's graded strengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Mild, Severity::Moderate, Severity::Severe];

    pub fn strength(self) -> f32 {
        match self {
            Severity::Mild => 1.0 / 3.0,
            Severity::Moderate => 2.0 / 3.0,
            Severity::Severe => 1.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// The physical measure of each kind at strength `s` (in [0, 1]).
fn warm_kelvin(s: f32) -> f32 {
    NEUTRAL_KELVIN - 3700.0 * s
}
fn cool_kelvin(s: f32) -> f32 {
    NEUTRAL_KELVIN + 5500.0 * s
}
fn dim_ev(s: f32) -> f32 {
    -3.0 * s
}
fn over_ev(s: f32) -> f32 {
    2.0 * s
}
/// 0..255, as seen at the reference side.
fn noise_sigma(s: f32) -> f32 {
    12.0 * s
}
fn jpeg_quality(s: f32) -> u8 {
    (90.0 - 80.0 * s).round().clamp(1.0, 100.0) as u8
}
/// Pixels at the reference side.
fn defocus_sigma(s: f32) -> f32 {
    4.0 * s
}
/// Pixels at the reference side.
fn motion_length(s: f32) -> f32 {
    18.0 * s
}
/// The shorter side the lesion's detail survives at.
fn low_resolution_side(s: f32) -> f32 {
    REFERENCE_SIDE / (1.0 + 3.0 * s)
}
/// The lesion's size in the frame, as a share of the original.
fn distance_scale(s: f32) -> f32 {
    1.0 - 0.6 * s
}

/// The parts of [`Kind::Combined`], in the order they happen (the scene,
/// the lens, the exposure, the sensor, the app), each at a share of the
/// combined strength.
const COMBINED: [(Kind, f32); 6] = [
    (Kind::WarmLight, 0.5),
    (Kind::Distance, 0.5),
    (Kind::Defocus, 0.4),
    (Kind::Dim, 0.5),
    (Kind::Noise, 0.6),
    (Kind::Jpeg, 0.6),
];

/// One degradation at one strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    pub kind: Kind,
    /// In `[0, 1]`: 0 changes nothing, 1 is the benchmark's "severe".
    pub strength: f32,
}

impl Degradation {
    pub fn new(kind: Kind, strength: f32) -> Self {
        Self { kind, strength: strength.clamp(0.0, 1.0) }
    }

    pub fn at(kind: Kind, severity: Severity) -> Self {
        Self::new(kind, severity.strength())
    }

    /// `image` degraded; `seed` fixes whatever is random.
    pub fn apply(&self, image: &RgbImage, seed: u64) -> RgbImage {
        let (w, h) = image.dimensions();
        let s = self.strength;
        if w == 0 || h == 0 || s <= 0.0 {
            return image.clone();
        }
        // Pixels of this photo per pixel at the reference side.
        let scale = w.min(h) as f32 / REFERENCE_SIDE;
        let mut rng = Rng::new(seed ^ ((self.kind as u64) << 56));
        match self.kind {
            Kind::WarmLight => light(image, warm_kelvin(s)),
            Kind::CoolLight => light(image, cool_kelvin(s)),
            Kind::Dim => exposure(image, dim_ev(s)),
            Kind::Overexposed => exposure(image, over_ev(s)),
            // Averaging k x k pixels into one divides noise by k, so a
            // larger photo needs more to look as noisy at the network's size.
            Kind::Noise => noise(image, noise_sigma(s) * scale.max(1.0), &mut rng),
            Kind::Jpeg => jpeg(image, jpeg_quality(s)),
            Kind::Defocus => imageops::blur(image, defocus_sigma(s) * scale),
            Kind::Motion => {
                motion(image, motion_length(s) * scale, rng.unit() * std::f32::consts::PI)
            }
            Kind::LowResolution => low_resolution(image, low_resolution_side(s) * scale),
            Kind::Distance => distance(image, distance_scale(s), &mut rng),
            Kind::Combined => {
                let mut out = image.clone();
                for (k, &(kind, share)) in COMBINED.iter().enumerate() {
                    out =
                        Degradation::new(kind, s * share).apply(&out, seed.wrapping_add(k as u64));
                }
                out
            }
        }
    }
}

/// Applies `degradations` one after another (each with its own seed).
pub fn apply_all(image: &RgbImage, degradations: &[Degradation], seed: u64) -> RgbImage {
    let mut out = image.clone();
    for (k, d) in degradations.iter().enumerate() {
        out = d.apply(&out, seed.wrapping_mul(31).wrapping_add(k as u64));
    }
    out
}

const GAMMA: f32 = 2.2;

fn to_linear(v: u8) -> f32 {
    (f32::from(v) / 255.0).powf(GAMMA)
}

fn from_linear(v: f32) -> u8 {
    (v.clamp(0.0, 1.0).powf(1.0 / GAMMA) * 255.0).round() as u8
}

/// Multiplies each channel in linear light by `gains`.
fn linear_gains(image: &RgbImage, gains: [f32; 3]) -> RgbImage {
    // 256 entries per channel instead of a power per pixel.
    let tables: [Vec<u8>; 3] = std::array::from_fn(|c| {
        (0..=255u8).map(|v| from_linear(to_linear(v) * gains[c])).collect()
    });
    let mut out = image.clone();
    for px in out.pixels_mut() {
        for c in 0..3 {
            px[c] = tables[c][usize::from(px[c])];
        }
    }
    out
}

/// The sRGB colour of black-body light at `kelvin` (an approximation fitted
/// to the CIE data, good from 1000 to 40000 K), 0..255 per channel.
pub fn blackbody(kelvin: f32) -> [f32; 3] {
    let t = kelvin.clamp(1000.0, 40000.0) / 100.0;
    let red = if t <= 66.0 { 255.0 } else { 329.699 * (t - 60.0).powf(-0.133_205) };
    let green = if t <= 66.0 {
        99.4708 * t.ln() - 161.1196
    } else {
        288.1222 * (t - 60.0).powf(-0.075_515)
    };
    let blue = if t >= 66.0 {
        255.0
    } else if t <= 19.0 {
        0.0
    } else {
        138.5177 * (t - 10.0).ln() - 305.0448
    };
    [red, green, blue].map(|v| v.clamp(1.0, 255.0))
}

/// Linear-light gains that turn the neutral light into light of `kelvin`,
/// at the same luminance.
pub fn light_gains(kelvin: f32) -> [f32; 3] {
    let lin = |rgb: [f32; 3]| rgb.map(|v| (v / 255.0).powf(GAMMA));
    let (to, from) = (lin(blackbody(kelvin)), lin(blackbody(NEUTRAL_KELVIN)));
    let gains: [f32; 3] = std::array::from_fn(|c| to[c] / from[c]);
    // Rec. 709 luminance weights in linear light.
    let luminance = 0.2126 * gains[0] + 0.7152 * gains[1] + 0.0722 * gains[2];
    gains.map(|g| g / luminance)
}

fn light(image: &RgbImage, kelvin: f32) -> RgbImage {
    linear_gains(image, light_gains(kelvin))
}

fn exposure(image: &RgbImage, ev: f32) -> RgbImage {
    linear_gains(image, [2f32.powf(ev); 3])
}

/// Normal deviates by Box-Muller.
fn normal(rng: &mut Rng) -> f32 {
    let u = rng.unit().max(1e-7);
    let v = rng.unit();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// Sensor noise: mostly shared by the channels (luminance), partly not (chroma).
fn noise(image: &RgbImage, sigma: f32, rng: &mut Rng) -> RgbImage {
    let mut out = image.clone();
    for px in out.pixels_mut() {
        let shared = normal(rng) * 0.8 * sigma;
        for c in 0..3 {
            let v = f32::from(px[c]) + shared + normal(rng) * 0.6 * sigma;
            px[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Encoded as JPEG at `quality` and decoded again.
fn jpeg(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoded =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(image);
    match encoded
        .ok()
        .and_then(|()| image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).ok())
    {
        Some(decoded) => decoded.to_rgb8(),
        // The encoder takes any RGB image; should it ever refuse, the photo stays as it was.
        None => image.clone(),
    }
}

/// The mean of the image along a line of `length` pixels at `angle` (radians).
fn motion(image: &RgbImage, length: f32, angle: f32) -> RgbImage {
    let taps = length.ceil().max(1.0) as usize + 1;
    if length < 0.5 {
        return image.clone();
    }
    let (w, h) = image.dimensions();
    let (dy, dx) = angle.sin_cos();
    let offsets: Vec<[f32; 2]> = (0..taps)
        .map(|k| {
            let t = (k as f32 / (taps - 1) as f32 - 0.5) * length;
            [t * dx, t * dy]
        })
        .collect();
    let raw = image.as_raw();
    let at = |x: f32, y: f32, c: usize| {
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |xx: u32, yy: u32| f32::from(raw[((yy * w + xx) * 3) as usize + c]);
        (p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx) * (1.0 - fy)
            + (p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx) * fy
    };
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(std::array::from_fn(|c| {
            let sum: f32 = offsets.iter().map(|[ox, oy]| at(x as f32 + ox, y as f32 + oy, c)).sum();
            (sum / taps as f32).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// Shrunk so its shorter side is `side` pixels, then enlarged back.
fn low_resolution(image: &RgbImage, side: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let short = w.min(h) as f32;
    if side >= short {
        return image.clone();
    }
    let k = side / short;
    let (sw, sh) = (((w as f32 * k).round() as u32).max(1), ((h as f32 * k).round() as u32).max(1));
    preprocess::resize(&preprocess::resize(image, sw, sh), w, h)
}

/// The median colour of the photo's outer ring: the skin around the lesion
/// (a dermatoscope's black vignette left out where there is enough else).
fn skin_colour(image: &RgbImage) -> [f32; 3] {
    let (w, h) = image.dimensions();
    let band = (w.min(h) / 16).max(1);
    let ring: Vec<&Rgb<u8>> = image
        .enumerate_pixels()
        .filter(|(x, y, _)| *x < band || *y < band || *x >= w - band || *y >= h - band)
        .map(|(_, _, px)| px)
        .collect();
    let lit: Vec<&Rgb<u8>> = ring
        .iter()
        .copied()
        .filter(|px| px.0.iter().map(|&v| u32::from(v)).sum::<u32>() > 90)
        .collect();
    let pool = if lit.len() * 4 >= ring.len() { lit } else { ring };
    std::array::from_fn(|c| {
        let mut values: Vec<u8> = pool.iter().map(|px| px[c]).collect();
        values.sort_unstable();
        values.get(values.len() / 2).copied().map_or(128.0, f32::from)
    })
}

/// The photo shrunk by `scale` in the middle of a frame of the same size,
/// on skin of the ring's colour with a faint uneven tone, blended over a
/// soft edge.
fn distance(image: &RgbImage, scale: f32, rng: &mut Rng) -> RgbImage {
    let (w, h) = image.dimensions();
    let (sw, sh) = (
        ((w as f32 * scale).round() as u32).clamp(1, w),
        ((h as f32 * scale).round() as u32).clamp(1, h),
    );
    if (sw, sh) == (w, h) {
        return image.clone();
    }
    let small = preprocess::resize(image, sw, sh);
    let skin = skin_colour(image);
    // Uneven tone: a coarse grid of brightness changes, bilinearly spread.
    const GRID: usize = 5;
    let tone: Vec<f32> = (0..GRID * GRID).map(|_| normal(rng) * 4.0).collect();
    let tone_at = |x: f32, y: f32| {
        let gx = x * (GRID - 1) as f32;
        let gy = y * (GRID - 1) as f32;
        let (x0, y0) = (gx.floor().min((GRID - 2) as f32), gy.floor().min((GRID - 2) as f32));
        let (fx, fy) = (gx - x0, gy - y0);
        let (i, j) = (x0 as usize, y0 as usize);
        let t = |a: usize, b: usize| tone[b * GRID + a];
        (t(i, j) * (1.0 - fx) + t(i + 1, j) * fx) * (1.0 - fy)
            + (t(i, j + 1) * (1.0 - fx) + t(i + 1, j + 1) * fx) * fy
    };
    let (ox, oy) = ((w - sw) / 2, (h - sh) / 2);
    let feather = (sw.min(sh) as f32 * 0.08).max(1.0);
    RgbImage::from_fn(w, h, |x, y| {
        let t = tone_at(x as f32 / w.max(2) as f32, y as f32 / h.max(2) as f32);
        let background: [f32; 3] = std::array::from_fn(|c| skin[c] + t);
        let inside = x >= ox && y >= oy && x < ox + sw && y < oy + sh;
        if !inside {
            return Rgb(background.map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        let (lx, ly) = (x - ox, y - oy);
        let edge = lx.min(ly).min(sw - 1 - lx).min(sh - 1 - ly) as f32 + 0.5;
        let alpha = (edge / feather).min(1.0);
        let px = small.get_pixel(lx, ly);
        Rgb(std::array::from_fn(|c| {
            (f32::from(px[c]) * alpha + background[c] * (1.0 - alpha)).round().clamp(0.0, 255.0)
                as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lesion-like photo: a dark brown disc on pinkish skin, with texture.
    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
            let r = (dx * dx + dy * dy).sqrt() / w.min(h) as f32;
            let grain = ((x * 7 + y * 13) % 11) as u8;
            if r < 0.3 { Rgb([90 + grain, 55, 40]) } else { Rgb([215, 160 + grain, 140]) }
        })
    }

    fn mean(image: &RgbImage) -> [f32; 3] {
        let n = (image.width() * image.height()) as f32;
        std::array::from_fn(|c| image.pixels().map(|p| f32::from(p[c])).sum::<f32>() / n)
    }

    fn difference(a: &RgbImage, b: &RgbImage) -> f32 {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| (f32::from(x) - f32::from(y)).abs())
            .sum::<f32>()
            / a.as_raw().len() as f32
    }

    #[test]
    fn strength_zero_changes_nothing_and_sizes_are_kept() {
        let p = photo(40, 30);
        for kind in Kind::ALL {
            assert_eq!(Degradation::new(kind, 0.0).apply(&p, 1), p, "{kind}");
            let out = Degradation::new(kind, 1.0).apply(&p, 1);
            assert_eq!(out.dimensions(), p.dimensions(), "{kind}");
            assert_ne!(out, p, "{kind} at full strength changes the photo");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_photo_and_another_seed_other_noise() {
        let p = photo(40, 30);
        for kind in Kind::ALL {
            let d = Degradation::at(kind, Severity::Moderate);
            assert_eq!(d.apply(&p, 7), d.apply(&p, 7), "{kind}");
        }
        let d = Degradation::at(Kind::Noise, Severity::Moderate);
        assert_ne!(d.apply(&p, 7), d.apply(&p, 8));
    }

    #[test]
    fn stronger_is_further_from_the_original() {
        let p = photo(64, 48);
        for kind in Kind::ALL {
            let [mild, moderate, severe] =
                Severity::ALL.map(|s| difference(&p, &Degradation::at(kind, s).apply(&p, 3)));
            assert!(mild < moderate && moderate < severe, "{kind}: {mild} {moderate} {severe}");
        }
    }

    #[test]
    fn light_moves_colour_not_brightness() {
        let grey = RgbImage::from_pixel(8, 8, Rgb([128, 128, 128]));
        let [r, g, b] = mean(&Degradation::at(Kind::WarmLight, Severity::Severe).apply(&grey, 0));
        assert!(r > g + 20.0 && g > b + 20.0, "warm light is orange: {r} {g} {b}");
        let [r, _, b] = mean(&Degradation::at(Kind::CoolLight, Severity::Severe).apply(&grey, 0));
        assert!(b > r + 10.0, "cool light is blue: {r} {b}");
        // The neutral light's gains are 1.
        assert!(light_gains(NEUTRAL_KELVIN).iter().all(|g| (g - 1.0).abs() < 1e-4));
        let dim = mean(&Degradation::at(Kind::Dim, Severity::Severe).apply(&grey, 0));
        // Three stops less light: an eighth in linear light.
        let expected = 255.0 * ((128.0f32 / 255.0).powf(2.2) / 8.0).powf(1.0 / 2.2);
        assert!((dim[0] - expected).abs() < 1.0, "{dim:?} vs {expected}");
    }

    #[test]
    fn distance_shrinks_the_lesion_onto_skin() {
        let p = photo(60, 60);
        let far = Degradation::at(Kind::Distance, Severity::Severe).apply(&p, 2);
        let dark = |i: &RgbImage| i.pixels().filter(|px| px[0] < 130).count() as f32;
        let ratio = dark(&far) / dark(&p);
        // Severe is 40% of the size: 16% of the area.
        assert!((0.1..0.25).contains(&ratio), "dark area ratio {ratio}");
        let corner = far.get_pixel(0, 0);
        assert!((i32::from(corner[0]) - 215).abs() < 16, "skin around it: {corner:?}");
    }

    #[test]
    fn blur_and_resolution_scale_with_the_photo() {
        // The same photo at two sizes, blurred, then seen at one size: alike.
        let (small, large) = (photo(112, 112), photo(448, 448));
        for kind in [Kind::Defocus, Kind::LowResolution, Kind::Motion] {
            let d = Degradation::at(kind, Severity::Moderate);
            let a = preprocess::resize(&d.apply(&small, 1), 56, 56);
            let b = preprocess::resize(&d.apply(&large, 1), 56, 56);
            assert!(difference(&a, &b) < 6.0, "{kind}: {}", difference(&a, &b));
        }
    }

    #[test]
    fn tiny_and_empty_photos_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (1, 7), (3, 2)] {
            let p = RgbImage::from_pixel(w, h, Rgb([100, 80, 60]));
            for kind in Kind::ALL {
                assert_eq!(Degradation::new(kind, 1.0).apply(&p, 0).dimensions(), (w, h));
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert!(!kind.describe(0.5).is_empty());
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.name()), Some(s));
        }
    }
}
