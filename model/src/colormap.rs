//! Heat maps as colours: the viridis colour map (perceptually uniform and
//! readable with colour-blindness) and alpha blending onto a photo.

use image::{Rgb, RgbImage, Rgba, RgbaImage};

/// Viridis at eleven evenly spaced points; interpolated linearly between them.
const VIRIDIS: [[u8; 3]; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x24, 0x75],
    [0x41, 0x44, 0x87],
    [0x35, 0x5f, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x44, 0xbf, 0x70],
    [0x7a, 0xd1, 0x51],
    [0xbd, 0xdf, 0x26],
    [0xfd, 0xe7, 0x25],
];

/// The colour of `value` in [0, 1] (clamped).
pub fn viridis(value: f32) -> [u8; 3] {
    let x = value.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let t = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|c| (f32::from(a[c]) * (1.0 - t) + f32::from(b[c]) * t).round() as u8)
}

/// A heat map (values in [0, 1], row-major `width` x `height`) as an RGBA
/// layer: viridis colours, more opaque where the heat is higher so that
/// the photo stays visible where the model did not look.
pub fn heat_layer(heat: &[f32], width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        let v = heat[(y * width + x) as usize];
        let [r, g, b] = viridis(v);
        Rgba([r, g, b, (255.0 * (0.35 + 0.65 * v.clamp(0.0, 1.0))).round() as u8])
    })
}

/// The photo with `layer` blended over it at `opacity` (0: photo only, 1: layer's own alpha).
pub fn blend(photo: &RgbImage, layer: &RgbaImage, opacity: f32) -> RgbImage {
    let opacity = opacity.clamp(0.0, 1.0);
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let p = photo.get_pixel(x, y);
        let l = layer.get_pixel(x, y);
        let a = opacity * f32::from(l[3]) / 255.0;
        Rgb(std::array::from_fn(|c| {
            (f32::from(p[c]) * (1.0 - a) + f32::from(l[c]) * a).round() as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_from_purple_to_yellow_getting_lighter() {
        assert_eq!(viridis(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(viridis(1.0), [0xfd, 0xe7, 0x25]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        let luma = |c: [u8; 3]| {
            0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2])
        };
        let steps: Vec<f32> = (0..=20).map(|i| luma(viridis(i as f32 / 20.0))).collect();
        assert!(
            steps.windows(2).all(|w| w[1] > w[0]),
            "lightness must rise monotonically: {steps:?}"
        );
    }

    #[test]
    fn blending_respects_opacity() {
        let photo = RgbImage::from_pixel(2, 1, Rgb([200, 100, 50]));
        let layer = heat_layer(&[0.0, 1.0], 2, 1);
        assert_eq!(blend(&photo, &layer, 0.0), photo);
        let full = blend(&photo, &layer, 1.0);
        assert_eq!(
            full.get_pixel(1, 0).0,
            viridis(1.0),
            "full heat at full opacity is the colour itself"
        );
        assert_ne!(full.get_pixel(0, 0).0, photo.get_pixel(0, 0).0, "low heat still tints");
    }
}
