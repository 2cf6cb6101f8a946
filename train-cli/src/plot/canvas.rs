//! An RGB pixel buffer with the few drawing operations the plots need, and
//! its PNG encoding. Coordinates are in pixels with (0, 0) the top-left
//! pixel's centre; anything outside the canvas is clipped.

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
    pub fn put(&mut self, x: i64, y: i64, colour: Rgb) {
        self.blend(x, y, colour, 1.0);
    }

    /// Mixes `colour` into one pixel with weight `alpha` (0..1): the edges of
    /// lines and discs are blended by their coverage so they do not look jagged.
    fn blend(&mut self, x: i64, y: i64, colour: Rgb, alpha: f64) {
        if !self.inside(x, y) || alpha <= 0.0 {
            return;
        }
        let pixel = self.image.get_pixel_mut(x as u32, y as u32);
        let alpha = alpha.min(1.0);
        for (old, new) in pixel.0.iter_mut().zip(colour) {
            *old = (f64::from(*old) * (1.0 - alpha) + f64::from(new) * alpha).round() as u8;
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

    /// Outlines the same rectangle as `fill_rect`, `thickness` pixels inwards.
    pub fn stroke_rect(&mut self, x: i64, y: i64, width: i64, height: i64, thickness: i64, colour: Rgb) {
        self.fill_rect(x, y, width, thickness, colour);
        self.fill_rect(x, y + height - thickness, width, thickness, colour);
        self.fill_rect(x, y, thickness, height, colour);
        self.fill_rect(x + width - thickness, y, thickness, height, colour);
    }

    /// A straight line `thickness` pixels wide with round ends: every pixel
    /// whose centre is within `thickness / 2` of the segment, edges blended.
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), thickness: f64, colour: Rgb) {
        let reach = thickness / 2.0 + 1.0;
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let length_squared = dx * dx + dy * dy;
        let x_range = (from.0.min(to.0) - reach).floor() as i64..=(from.0.max(to.0) + reach).ceil() as i64;
        let y_range = (from.1.min(to.1) - reach).floor() as i64..=(from.1.max(to.1) + reach).ceil() as i64;
        for y in y_range.clone() {
            for x in x_range.clone() {
                let (px, py) = (x as f64 - from.0, y as f64 - from.1);
                // The nearest point of the segment, as a share of its length.
                let t = if length_squared == 0.0 { 0.0 } else { ((px * dx + py * dy) / length_squared).clamp(0.0, 1.0) };
                let distance = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
                self.blend(x, y, colour, thickness / 2.0 + 0.5 - distance);
            }
        }
    }

    /// Connects `points` by lines.
    pub fn polyline(&mut self, points: &[(f64, f64)], thickness: f64, colour: Rgb) {
        for pair in points.windows(2) {
            self.line(pair[0], pair[1], thickness, colour);
        }
    }

    /// A line drawn as `dash`-pixel strokes separated by `gap` pixels.
    pub fn dashed_line(&mut self, from: (f64, f64), to: (f64, f64), thickness: f64, dash: f64, gap: f64, colour: Rgb) {
        let length = ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt();
        let at = |d: f64| {
            let t = if length == 0.0 { 0.0 } else { (d / length).min(1.0) };
            (from.0 + t * (to.0 - from.0), from.1 + t * (to.1 - from.1))
        };
        let mut start = 0.0;
        while start < length {
            self.line(at(start), at(start + dash), thickness, colour);
            start += dash + gap;
        }
    }

    /// A filled disc, edge blended.
    pub fn disc(&mut self, centre: (f64, f64), radius: f64, colour: Rgb) {
        self.line(centre, centre, 2.0 * radius, colour);
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
    fn horizontal_line_covers_its_row_and_nothing_else() {
        let mut canvas = Canvas::new(20, 10, WHITE);
        canvas.line((2.0, 4.0), (15.0, 4.0), 1.0, RED);
        for x in 0..20 {
            for y in 0..10 {
                let expected = if y == 4 && (2..=15).contains(&x) { RED } else { WHITE };
                assert_eq!(canvas.pixel(x, y), expected, "({x}, {y})");
            }
        }
    }

    #[test]
    fn thick_diagonal_line_is_solid_along_its_middle_and_clipped_at_the_border() {
        let mut canvas = Canvas::new(30, 30, WHITE);
        canvas.line((-10.0, -10.0), (40.0, 40.0), 3.0, RED);
        for i in 0..30 {
            assert_eq!(canvas.pixel(i, i), RED);
        }
        // 0.7 px off the diagonal is inside a 3 px line, 5.7 px is far outside.
        assert_eq!(canvas.pixel(11, 10), RED);
        assert_eq!(canvas.pixel(18, 10), WHITE);
    }

    #[test]
    fn dashes_leave_gaps_and_rects_fill_exactly() {
        let mut canvas = Canvas::new(40, 10, WHITE);
        canvas.dashed_line((0.0, 5.0), (39.0, 5.0), 1.0, 4.0, 4.0, RED);
        assert_eq!(canvas.pixel(2, 5), RED);
        assert_eq!(canvas.pixel(6, 5), WHITE);
        assert_eq!(canvas.pixel(10, 5), RED);
        canvas.fill_rect(30, 1, 3, 2, RED);
        let filled = (0..40).flat_map(|x| (0..4).map(move |y| (x, y))).filter(|&(x, y)| canvas.pixel(x, y) == RED).count();
        assert_eq!(filled, 6);
    }

    #[test]
    fn png_round_trips() {
        let mut canvas = Canvas::new(7, 5, WHITE);
        canvas.put(3, 2, RED);
        let decoded = image::load_from_memory_with_format(&canvas.to_png().unwrap(), image::ImageFormat::Png).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (7, 5));
        assert_eq!(decoded.get_pixel(3, 2).0, RED);
        assert_eq!(decoded.get_pixel(0, 0).0, WHITE);
    }
}
