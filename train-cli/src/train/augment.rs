//! Training views drawn afresh from the decoded photo: sometimes spoilt the
//! ways a phone photo is (`model::degrade`, the definitions the robustness
//! benchmark measures with), then a random crop of random area and aspect
//! from the photo's frame (see `model::preprocess` for the geometry it
//! mirrors), turned by any angle with reflected borders, flipped, and
//! jittered in brightness, contrast, saturation and hue, sampled in one
//! bilinear pass straight into the normalised input.

use std::borrow::Cow;

use image::RgbImage;
use model::degrade::{Degradation, Kind};
use model::preprocess::{self, Geometry, Normalization, Preparation};

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    pub geometry: Geometry,
    /// Smallest crop area, as a share of the frame the geometry uses.
    pub min_area: f32,
    /// Largest aspect ratio of a crop.
    pub max_aspect: f32,
    /// Any angle (else quarter turns only).
    pub rotate: bool,
    /// Largest relative change of brightness, contrast and saturation.
    pub colour: f32,
    /// Largest hue rotation, degrees.
    pub hue: f32,
    /// Chance that a view is spoilt the ways a phone photo is.
    pub phone: f32,
    /// Largest strength of those degradations.
    pub phone_strength: f32,
    /// The photos were colour-corrected when loaded: a spoilt view is
    /// corrected again, as `model::preprocess` corrects every photo in use.
    pub colour_constancy: bool,
}

/// The ways a phone photo is spoilt, in the order they happen (the light,
/// the distance, the lens, the exposure, the sensor, the app); a spoilt
/// view draws each group with [`GROUP_CHANCE`], then one kind of it.
const PHONE_GROUPS: [&[Kind]; 6] = [
    &[Kind::WarmLight, Kind::CoolLight],
    &[Kind::Distance],
    &[Kind::Defocus, Kind::Motion, Kind::LowResolution],
    &[Kind::Dim, Kind::Overexposed],
    &[Kind::Noise],
    &[Kind::Jpeg],
];
const GROUP_CHANCE: f32 = 0.4;

/// Where a view's corners come from: the crop's centre, its two half-axes
/// (already turned and flipped) in source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub centre: [f32; 2],
    /// Source offset of a step of 1 along the output's x and y axes, over
    /// the whole output width (so `centre + (u - 0.5) * x + (v - 0.5) * y`).
    pub x: [f32; 2],
    pub y: [f32; 2],
}

impl Placement {
    /// The view `geometry` gives without augmentation.
    pub fn plain(geometry: Geometry, width: u32, height: u32) -> Self {
        let [rx, ry, rw, rh] = geometry.region(width, height);
        let centre = [rx as f32 + rw as f32 / 2.0, ry as f32 + rh as f32 / 2.0];
        Self { centre, x: [rw as f32, 0.0], y: [0.0, rh as f32] }
    }

    /// Source position of output coordinates `(u, v)` in `[0, 1]`.
    pub fn source(&self, u: f32, v: f32) -> [f32; 2] {
        let (a, b) = (u - 0.5, v - 0.5);
        [
            self.centre[0] + a * self.x[0] + b * self.y[0],
            self.centre[1] + a * self.x[1] + b * self.y[1],
        ]
    }
}

/// Colour changes applied to a view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    /// Radians.
    pub hue: f32,
}

impl Colour {
    pub const NONE: Self = Self { brightness: 1.0, contrast: 1.0, saturation: 1.0, hue: 0.0 };
}

impl Augment {
    /// A random crop, turn and flip of a `width` x `height` photo.
    pub fn placement(&self, width: u32, height: u32, rng: &mut Rng) -> Placement {
        let [_, _, rw, rh] = self.geometry.region(width, height);
        let (w, h) = (width as f32, height as f32);
        let area = self.min_area + rng.unit() * (1.0 - self.min_area);
        let log_aspect = (rng.unit() * 2.0 - 1.0) * self.max_aspect.ln();
        let aspect = log_aspect.exp();
        let (cw, ch) = (rw as f32 * (area * aspect).sqrt(), rh as f32 * (area / aspect).sqrt());
        // The centre keeps the crop inside the photo where it fits: lesions
        // off the centre are seen too.
        let mut centre_along = |size: f32, crop: f32| {
            if crop < size { crop / 2.0 + rng.unit() * (size - crop) } else { size / 2.0 }
        };
        let centre = [centre_along(w, cw), centre_along(h, ch)];
        let angle = if self.rotate {
            rng.unit() * std::f32::consts::TAU
        } else {
            rng.below(4) as f32 * std::f32::consts::FRAC_PI_2
        };
        let flip = if rng.below(2) == 1 { -1.0 } else { 1.0 };
        let (s, c) = angle.sin_cos();
        Placement { centre, x: [flip * cw * c, flip * cw * s], y: [-ch * s, ch * c] }
    }

    /// Random colour changes.
    pub fn colour(&self, rng: &mut Rng) -> Colour {
        let mut factor = || 1.0 + (rng.unit() * 2.0 - 1.0) * self.colour;
        let (brightness, contrast, saturation) = (factor(), factor(), factor());
        let hue = (rng.unit() * 2.0 - 1.0) * self.hue.to_radians();
        Colour { brightness, contrast, saturation, hue }
    }

    /// The phone-like degradations of one view: none, or some of
    /// [`PHONE_GROUPS`] at random strengths.
    pub fn degradations(&self, rng: &mut Rng) -> Vec<Degradation> {
        if self.phone <= 0.0 || rng.unit() >= self.phone {
            return Vec::new();
        }
        let mut chosen = Vec::new();
        for group in PHONE_GROUPS {
            if rng.unit() < GROUP_CHANCE {
                let kind = group[rng.below(group.len())];
                chosen.push(Degradation::new(kind, rng.unit() * self.phone_strength));
            }
        }
        chosen
    }

    /// `image` spoilt by `degradations` (and colour-corrected again if the
    /// photos are), or `image` itself.
    fn spoil<'a>(
        &self,
        image: &'a RgbImage,
        degradations: &[Degradation],
        seed: u64,
    ) -> Cow<'a, RgbImage> {
        if degradations.is_empty() {
            return Cow::Borrowed(image);
        }
        let mut spoilt = model::degrade::apply_all(image, degradations, seed);
        if self.colour_constancy {
            let preparation = Preparation {
                geometry: self.geometry,
                normalization: Normalization::LITE,
                colour_constancy: true,
            };
            let gains = preparation.gains(&spoilt);
            preprocess::apply_gains(&mut spoilt, gains);
        }
        Cow::Owned(spoilt)
    }

    /// One random view of `image` as a normalised `[3, size, size]` input.
    pub fn view(
        &self,
        image: &RgbImage,
        size: u32,
        normalization: &Normalization,
        rng: &mut Rng,
    ) -> Vec<f32> {
        let degradations = self.degradations(rng);
        // Drawn only for a spoilt view: without degradations the views are
        // those of the recipe before them.
        let seed = if degradations.is_empty() { 0 } else { rng.next_u64() };
        let image = self.spoil(image, &degradations, seed);
        let placement = self.placement(image.width(), image.height(), rng);
        let colour = self.colour(rng);
        render(&image, &placement, &colour, size, normalization)
    }
}

/// Mirrors a coordinate back into `[0, n - 1]`.
fn reflect(x: f32, n: u32) -> f32 {
    let max = (n.max(1) - 1) as f32;
    if max == 0.0 {
        return 0.0;
    }
    let period = 2.0 * max;
    let y = x.rem_euclid(period);
    if y > max { period - y } else { y }
}

const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Samples `placement` of `image` (bilinear, reflected borders) into a
/// normalised `[3, size, size]` input, with `colour` applied.
pub fn render(
    image: &RgbImage,
    placement: &Placement,
    colour: &Colour,
    size: u32,
    normalization: &Normalization,
) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let n = size as usize;
    let plane = n * n;
    let raw = image.as_raw();
    let mut rgb = vec![[0.0f32; 3]; plane];
    for (i, out) in rgb.iter_mut().enumerate() {
        let (row, col) = (i / n, i % n);
        let [sx, sy] =
            placement.source((col as f32 + 0.5) / n as f32, (row as f32 + 0.5) / n as f32);
        // Source pixel centres sit at integer + 0.5.
        let x = reflect(sx - 0.5, w);
        let y = reflect(sy - 0.5, h);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: u32, yy: u32, c: usize| f32::from(raw[((yy * w + xx) * 3) as usize + c]);
        for (c, value) in out.iter_mut().enumerate() {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
            let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            *value = top * (1.0 - fy) + bottom * fy;
        }
    }
    if *colour != Colour::NONE {
        apply_colour(&mut rgb, colour);
    }
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in rgb.iter().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] - normalization.mean[c]) / normalization.std[c];
        }
    }
    out
}

/// Saturation and hue turn the colour around the grey axis; contrast pulls
/// towards the mean grey; brightness scales; values stay within 0..255.
fn apply_colour(rgb: &mut [[f32; 3]], colour: &Colour) {
    let luma = |p: &[f32; 3]| p.iter().zip(LUMA).map(|(v, w)| v * w).sum::<f32>();
    let mean = rgb.iter().map(luma).sum::<f32>() / rgb.len().max(1) as f32;
    // Chroma in the plane orthogonal to grey, by two fixed axes (YIQ's I and Q).
    const I: [f32; 3] = [0.596, -0.274, -0.322];
    const Q: [f32; 3] = [0.211, -0.523, 0.312];
    // Back from (Y, I, Q) to RGB.
    const BACK: [[f32; 3]; 3] = [[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]];
    let (s, c) = colour.hue.sin_cos();
    for px in rgb.iter_mut() {
        let y = luma(px);
        let i = px.iter().zip(I).map(|(v, w)| v * w).sum::<f32>() * colour.saturation;
        let q = px.iter().zip(Q).map(|(v, w)| v * w).sum::<f32>() * colour.saturation;
        let (i, q) = (i * c - q * s, i * s + q * c);
        let y = mean + (y - mean) * colour.contrast;
        for (channel, back) in px.iter_mut().zip(BACK) {
            let v = (back[0] * y + back[1] * i + back[2] * q) * colour.brightness;
            *channel = v.clamp(0.0, 255.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    const PLAIN: Normalization = Normalization { mean: [0.0; 3], std: [1.0; 3] };

    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y) % 256) as u8])
        })
    }

    fn augment() -> Augment {
        Augment {
            geometry: Geometry::Crop,
            min_area: 0.35,
            max_aspect: 4.0 / 3.0,
            rotate: true,
            colour: 0.2,
            hue: 10.0,
            phone: 0.0,
            phone_strength: 1.0,
            colour_constancy: false,
        }
    }

    #[test]
    fn the_plain_placement_is_the_preprocessing_view() {
        // A square photo at its own size: sampling reproduces it exactly.
        let photo = pattern(16, 16);
        let placement = Placement::plain(Geometry::Crop, 16, 16);
        let out = render(&photo, &placement, &Colour::NONE, 16, &PLAIN);
        for (x, y, px) in photo.enumerate_pixels() {
            for c in 0..3 {
                assert!((out[c * 256 + (y * 16 + x) as usize] - f32::from(px[c])).abs() < 1e-3);
            }
        }
        // A 4:3 photo: the centred square, as `Geometry::Crop` takes it.
        assert_eq!(Placement::plain(Geometry::Crop, 40, 30).centre, [20.0, 15.0]);
        assert_eq!(Placement::plain(Geometry::Crop, 40, 30).x, [30.0, 0.0]);
        assert_eq!(Placement::plain(Geometry::Stretch, 40, 30).x, [40.0, 0.0]);
    }

    #[test]
    fn crops_keep_their_area_and_aspect_within_bounds() {
        let a = augment();
        let mut rng = Rng::new(5);
        for _ in 0..2000 {
            let p = a.placement(200, 150, &mut rng);
            let cw = p.x[0].hypot(p.x[1]);
            let ch = p.y[0].hypot(p.y[1]);
            let area = cw * ch / (150.0 * 150.0);
            assert!((0.35 - 1e-3..=1.0 + 1e-3).contains(&area), "area {area}");
            assert!(cw / ch <= 4.0 / 3.0 + 1e-3 && ch / cw <= 4.0 / 3.0 + 1e-3, "{cw} x {ch}");
            // The two axes stay perpendicular: no shear.
            assert!((p.x[0] * p.y[0] + p.x[1] * p.y[1]).abs() < 1e-2 * cw * ch);
        }
    }

    #[test]
    fn views_differ_stay_in_range_and_reflect_at_the_border() {
        let a = augment();
        let mut rng = Rng::new(3);
        let photo = pattern(40, 30);
        let first = a.view(&photo, 24, &PLAIN, &mut rng);
        let second = a.view(&photo, 24, &PLAIN, &mut rng);
        assert_ne!(first, second);
        assert!(first.iter().all(|v| (0.0..=255.0).contains(v)));
        assert_eq!(reflect(-1.0, 10), 1.0);
        assert_eq!(reflect(10.0, 10), 8.0);
        assert_eq!(reflect(3.5, 10), 3.5);
        assert_eq!(reflect(5.0, 1), 0.0);
    }

    #[test]
    fn phone_degradations_come_as_often_as_asked_in_their_order() {
        let mut rng = Rng::new(9);
        let never = augment();
        assert!((0..200).all(|_| never.degradations(&mut rng).is_empty()));
        let half = Augment { phone: 0.5, phone_strength: 0.6, ..augment() };
        let draws: Vec<Vec<Degradation>> = (0..4000).map(|_| half.degradations(&mut rng)).collect();
        // A spoilt view draws no group with chance 0.6^6 = 4.7%.
        let spoilt = draws.iter().filter(|d| !d.is_empty()).count() as f32 / 4000.0;
        assert!((0.45..0.5).contains(&spoilt), "{spoilt}");
        let group = |k: Kind| PHONE_GROUPS.iter().position(|g| g.contains(&k)).unwrap();
        for d in &draws {
            assert!(d.iter().all(|x| (0.0..=0.6).contains(&x.strength)));
            assert!(d.windows(2).all(|w| group(w[0].kind) < group(w[1].kind)), "{d:?}");
        }
        for kind in PHONE_GROUPS.iter().flat_map(|g| g.iter()) {
            assert!(draws.iter().flatten().any(|d| d.kind == *kind), "{kind} is drawn");
        }
        // A spoilt view is still a view of the right size and range.
        let photo = pattern(40, 30);
        let all = Augment { phone: 1.0, colour_constancy: true, ..augment() };
        for _ in 0..20 {
            let view = all.view(&photo, 24, &PLAIN, &mut rng);
            assert_eq!(view.len(), 3 * 24 * 24);
            assert!(view.iter().all(|v| (0.0..=255.0).contains(v)));
        }
    }

    #[test]
    fn colour_changes_do_what_they_say() {
        let mut grey = vec![[100.0f32; 3]; 4];
        apply_colour(
            &mut grey,
            &Colour { brightness: 1.0, contrast: 1.0, saturation: 0.5, hue: 1.0 },
        );
        assert!(
            grey.iter().flatten().all(|v| (v - 100.0).abs() < 0.5),
            "grey has no hue or saturation: {grey:?}"
        );
        let mut red = vec![[200.0f32, 50.0, 50.0]];
        apply_colour(&mut red, &Colour { saturation: 0.0, ..Colour::NONE });
        let [r, g, b] = red[0];
        assert!((r - g).abs() < 0.5 && (g - b).abs() < 0.5, "no saturation is grey: {red:?}");
        let mut dim = vec![[100.0f32; 3]];
        apply_colour(&mut dim, &Colour { brightness: 1.2, ..Colour::NONE });
        assert!((dim[0][0] - 120.0).abs() < 0.5);
    }
}
