//! Training-time augmentation of an RGB image already resized to the
//! network input: a random flip / quarter turn (lesions have no "up"), a
//! small free rotation, a zoom-and-shift crop and a mild colour jitter, all
//! in one bilinear resampling pass.

use image::{Rgb, RgbImage};

use crate::rng::Rng;

#[derive(Debug, Clone, Copy)]
pub struct Augment {
    /// Largest free rotation, degrees.
    pub max_rotation: f32,
    /// Smallest zoom (share of the frame kept along each side).
    pub min_scale: f32,
    /// Largest relative change of brightness, contrast and saturation.
    pub colour: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self { max_rotation: 30.0, min_scale: 0.75, colour: 0.1 }
    }
}

/// A geometric transform from output coordinates to source coordinates,
/// both normalised to [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Row-major 2x2 matrix and translation.
    pub m: [f32; 4],
    pub t: [f32; 2],
}

impl Transform {
    #[cfg(test)]
    pub const IDENTITY: Self = Self { m: [1.0, 0.0, 0.0, 1.0], t: [0.0, 0.0] };

    pub fn apply(&self, u: f32, v: f32) -> (f32, f32) {
        (self.m[0] * u + self.m[1] * v + self.t[0], self.m[2] * u + self.m[3] * v + self.t[1])
    }
}

/// Mirrors coordinates back into `[0, n - 1]`.
fn reflect(x: f32, n: u32) -> f32 {
    let max = (n.max(1) - 1) as f32;
    if max == 0.0 {
        return 0.0;
    }
    let period = 2.0 * max;
    let y = x.rem_euclid(period);
    if y > max { period - y } else { y }
}

/// Resamples `image` through `transform` (bilinear, mirrored borders).
pub fn warp(image: &RgbImage, transform: &Transform) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut out = RgbImage::new(w, h);
    for (j, i, px) in out.enumerate_pixels_mut() {
        let u = (j as f32 + 0.5) / w as f32 * 2.0 - 1.0;
        let v = (i as f32 + 0.5) / h as f32 * 2.0 - 1.0;
        let (su, sv) = transform.apply(u, v);
        let x = reflect((su + 1.0) / 2.0 * w as f32 - 0.5, w);
        let y = reflect((sv + 1.0) / 2.0 * h as f32 - 0.5, h);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let mut value = [0u8; 3];
        for (c, out) in value.iter_mut().enumerate() {
            let at = |xx: u32, yy: u32| f32::from(image.get_pixel(xx, yy)[c]);
            let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
            let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
            *out = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        *px = Rgb(value);
    }
    out
}

/// Brightness, contrast and saturation factors around 1.
pub fn jitter_colour(image: &mut RgbImage, brightness: f32, contrast: f32, saturation: f32) {
    let n = (image.width() * image.height()).max(1) as f32;
    let mean: f32 = image.pixels().map(luma).sum::<f32>() / n;
    for px in image.pixels_mut() {
        let gray = luma(px);
        for c in 0..3 {
            let v = f32::from(px[c]);
            let saturated = gray + (v - gray) * saturation;
            let contrasted = mean + (saturated - mean) * contrast;
            px[c] = (contrasted * brightness).round().clamp(0.0, 255.0) as u8;
        }
    }
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

impl Augment {
    /// A random transform: one of the 8 flips / quarter turns, a free
    /// rotation, a zoom and a shift that keeps the view inside the frame.
    pub fn random_transform(&self, rng: &mut Rng) -> Transform {
        let quarter = rng.below(4) as f32 * std::f32::consts::FRAC_PI_2;
        let flip = if rng.below(2) == 1 { -1.0 } else { 1.0 };
        let angle = quarter + (rng.unit() * 2.0 - 1.0) * self.max_rotation.to_radians();
        let (s, c) = angle.sin_cos();
        // A turned square reaches scale * (|cos| + |sin|): shrink it to stay inside the frame.
        let reach = c.abs() + s.abs();
        let scale = (self.min_scale + rng.unit() * (1.0 - self.min_scale)).min(1.0 / reach);
        let m = [scale * c * flip, -scale * s, scale * s * flip, scale * c];
        let slack = (1.0 - scale * reach).max(0.0);
        let t = [(rng.unit() * 2.0 - 1.0) * slack, (rng.unit() * 2.0 - 1.0) * slack];
        Transform { m, t }
    }

    /// One augmented view of an input-sized image.
    pub fn view(&self, image: &RgbImage, rng: &mut Rng) -> RgbImage {
        let mut out = warp(image, &self.random_transform(rng));
        let mut factor = || 1.0 + (rng.unit() * 2.0 - 1.0) * self.colour;
        let (b, c, s) = (factor(), factor(), factor());
        jitter_colour(&mut out, b, c, s);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern() -> RgbImage {
        RgbImage::from_fn(16, 12, |x, y| Rgb([(x * 16) as u8, (y * 20) as u8, ((x + y) * 7) as u8]))
    }

    #[test]
    fn identity_warp_is_exact_and_a_flip_mirrors() {
        let image = pattern();
        assert_eq!(warp(&image, &Transform::IDENTITY), image);
        let mirrored = warp(&image, &Transform { m: [-1.0, 0.0, 0.0, 1.0], t: [0.0, 0.0] });
        for (x, y, px) in mirrored.enumerate_pixels() {
            assert_eq!(px, image.get_pixel(15 - x, y));
        }
    }

    #[test]
    fn random_views_stay_inside_the_frame() {
        let augment = Augment { max_rotation: 45.0, min_scale: 0.7, colour: 0.0 };
        let mut rng = Rng::new(9);
        for _ in 0..2000 {
            let t = augment.random_transform(&mut rng);
            for (u, v) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)] {
                let (x, y) = t.apply(u, v);
                assert!(
                    x.abs() <= 1.0 + 1e-5 && y.abs() <= 1.0 + 1e-5,
                    "{t:?} maps a corner to ({x}, {y})"
                );
            }
        }
    }

    #[test]
    fn views_stay_in_range_and_differ() {
        let image = pattern();
        let augment = Augment::default();
        let mut rng = Rng::new(3);
        let a = augment.view(&image, &mut rng);
        let b = augment.view(&image, &mut rng);
        assert_eq!(a.dimensions(), image.dimensions());
        assert_ne!(a, b);
        let mut plain = image.clone();
        jitter_colour(&mut plain, 1.0, 1.0, 1.0);
        assert_eq!(plain, image, "unit factors change nothing");
    }
}
