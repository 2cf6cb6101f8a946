//! An RGB pixel buffer with the few drawing operations the explain panel
//! needs (a picture, filled boxes, blended pixels for text), and its PNG
//! encoding. Coordinates
//! are in pixels from the top-left corner; anything outside is clipped.

use anyhow::{Context, Result};
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

pub type Rgb = [u8; 3];

pub struct Canvas {
    image: RgbImage,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: Rgb) -> Self {
        Self { image: RgbImage::from_pixel(width, height, image::Rgb(background)) }
    }

    pub fn width(&self) -> u32 {
        self.image.width()
    }

    pub fn height(&self) -> u32 {
        self.image.height()
    }

    #[cfg(test)]
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        self.image.get_pixel(x, y).0
    }

    fn inside(&self, x: i64, y: i64) -> bool {
        x >= 0 && y >= 0 && x < i64::from(self.width()) && y < i64::from(self.height())
    }

    /// Sets one pixel.
    fn put(&mut self, x: i64, y: i64, colour: Rgb) {
        if self.inside(x, y) {
            self.image.put_pixel(x as u32, y as u32, image::Rgb(colour));
        }
    }

    /// Mixes `colour` into one pixel by `coverage` (0: unchanged, 1: replaced),
    /// as a glyph's anti-aliased edge covers it.
    pub fn blend(&mut self, x: i64, y: i64, colour: Rgb, coverage: f32) {
        if !self.inside(x, y) {
            return;
        }
        let a = coverage.clamp(0.0, 1.0);
        let pixel = self.image.get_pixel_mut(x as u32, y as u32);
        for (old, new) in pixel.0.iter_mut().zip(colour) {
            *old = (f32::from(*old) * (1.0 - a) + f32::from(new) * a).round() as u8;
        }
    }

    /// Copies `picture` with its top-left corner at (`x`, `y`), clipped.
    pub fn draw_image(&mut self, x: u32, y: u32, picture: &RgbImage) {
        for (px, py, pixel) in picture.enumerate_pixels() {
            let (tx, ty) = (x + px, y + py);
            if tx < self.width() && ty < self.height() {
                self.image.put_pixel(tx, ty, *pixel);
            }
        }
    }

    /// Fills the `width` x `height` rectangle whose top-left pixel is (`x`, `y`).
    pub fn fill_rect(&mut self, x: i64, y: i64, width: i64, height: i64, colour: Rgb) {
        for py in y.max(0)..(y + height).min(i64::from(self.height())) {
            for px in x.max(0)..(x + width).min(i64::from(self.width())) {
                self.put(px, py, colour);
            }
        }
    }

    /// The image as PNG file bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        PngEncoder::new(&mut bytes)
            .write_image(self.image.as_raw(), self.width(), self.height(), ExtendedColorType::Rgb8)
            .context("cannot encode a plot as PNG")?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: Rgb = [255, 255, 255];
    const RED: Rgb = [255, 0, 0];

    #[test]
    fn rects_fill_exactly_and_clip() {
        let mut canvas = Canvas::new(40, 10, WHITE);
        canvas.fill_rect(30, 1, 3, 2, RED);
        canvas.fill_rect(38, 8, 5, 5, RED);
        let filled = (0..40)
            .flat_map(|x| (0..10).map(move |y| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y) == RED)
            .count();
        assert_eq!(filled, 6 + 4);
    }

    #[test]
    fn blending_mixes_by_coverage_and_clips() {
        let mut canvas = Canvas::new(3, 1, WHITE);
        canvas.blend(0, 0, [0, 0, 0], 0.5);
        canvas.blend(1, 0, [0, 0, 0], 1.0);
        canvas.blend(5, 0, [0, 0, 0], 1.0);
        assert_eq!(canvas.pixel(0, 0), [128, 128, 128]);
        assert_eq!(canvas.pixel(1, 0), [0, 0, 0]);
        assert_eq!(canvas.pixel(2, 0), WHITE);
    }

    #[test]
    fn png_round_trips() {
        let mut canvas = Canvas::new(7, 5, WHITE);
        canvas.put(3, 2, RED);
        let decoded =
            image::load_from_memory_with_format(&canvas.to_png().unwrap(), image::ImageFormat::Png)
                .unwrap()
                .to_rgb8();
        assert_eq!(decoded.dimensions(), (7, 5));
        assert_eq!(decoded.get_pixel(3, 2).0, RED);
        assert_eq!(decoded.get_pixel(0, 0).0, WHITE);
    }
}
