//! A part of a photo chosen by the person: the page offers it when the
//! lesion fills too little of the frame. Stated as fractions of the photo,
//! so it means the same on the page's display-sized copy and on the
//! full-resolution photo the worker decodes.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// A rectangle as fractions of a photo's width and height (0..1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Crop {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

/// The smallest side a crop may have, as a fraction: below it a crop of a
/// phone photo keeps too few pixels to judge.
pub const MIN_SIDE: f32 = 0.05;

impl Crop {
    /// The whole photo.
    pub const WHOLE: Crop = Crop { left: 0.0, top: 0.0, width: 1.0, height: 1.0 };

    /// A square centred at `(x, y)` (fractions of a `width` x `height`
    /// photo) whose side is `side` times the photo's shorter side, moved
    /// inside the photo where it would stick out.
    pub fn square(x: f32, y: f32, side: f32, width: u32, height: u32) -> Crop {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        let side_px = side.clamp(MIN_SIDE, 1.0) * w.min(h);
        let (cw, ch) = (side_px / w, side_px / h);
        let left = (x.clamp(0.0, 1.0) - cw / 2.0).clamp(0.0, 1.0 - cw);
        let top = (y.clamp(0.0, 1.0) - ch / 2.0).clamp(0.0, 1.0 - ch);
        Crop { left, top, width: cw, height: ch }
    }

    /// This crop, stated within `outer`, as a crop of the whole photo: a
    /// crop of an already cropped photo.
    pub fn within(self, outer: Crop) -> Crop {
        Crop {
            left: outer.left + self.left * outer.width,
            top: outer.top + self.top * outer.height,
            width: self.width * outer.width,
            height: self.height * outer.height,
        }
        .sanitised()
    }

    /// Inside the photo, at least [`MIN_SIDE`] on each side; a crop with a
    /// value that is not a number is the whole photo.
    pub fn sanitised(self) -> Crop {
        let values = [self.left, self.top, self.width, self.height];
        if values.iter().any(|v| !v.is_finite()) {
            return Crop::WHOLE;
        }
        let width = self.width.clamp(MIN_SIDE, 1.0);
        let height = self.height.clamp(MIN_SIDE, 1.0);
        Crop {
            left: self.left.clamp(0.0, 1.0 - width),
            top: self.top.clamp(0.0, 1.0 - height),
            width,
            height,
        }
    }

    /// The crop in pixels of a `width` x `height` photo: `[x, y, w, h]`,
    /// at least one pixel, inside the photo.
    pub fn pixels(self, width: u32, height: u32) -> [u32; 4] {
        let c = self.sanitised();
        let (w, h) = (width as f32, height as f32);
        let x = ((c.left * w).round() as u32).min(width.saturating_sub(1));
        let y = ((c.top * h).round() as u32).min(height.saturating_sub(1));
        let cw = ((c.width * w).round() as u32).clamp(1, width.saturating_sub(x).max(1));
        let ch = ((c.height * h).round() as u32).clamp(1, height.saturating_sub(y).max(1));
        [x, y, cw, ch]
    }

    /// The cropped part of `photo`.
    pub fn apply(self, photo: &RgbImage) -> RgbImage {
        let [x, y, w, h] = self.pixels(photo.width(), photo.height());
        image::imageops::crop_imm(photo, x, y, w, h).to_image()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_is_square_in_pixels_and_stays_inside() {
        let c = Crop::square(0.5, 0.5, 0.5, 400, 300);
        assert_eq!(c.pixels(400, 300), [125, 75, 150, 150]);
        // Near a corner it is moved in, not cut.
        let corner = Crop::square(0.0, 1.0, 0.5, 400, 300);
        assert_eq!(corner.pixels(400, 300), [0, 150, 150, 150]);
        // Larger than the shorter side is the shorter side.
        assert_eq!(Crop::square(0.5, 0.5, 3.0, 400, 300).pixels(400, 300), [50, 0, 300, 300]);
    }

    #[test]
    fn a_crop_of_a_crop_is_stated_within_the_first() {
        let outer = Crop { left: 0.2, top: 0.4, width: 0.5, height: 0.5 };
        let inner = Crop { left: 0.5, top: 0.0, width: 0.5, height: 0.5 };
        let both = inner.within(outer);
        assert_eq!(both, Crop { left: 0.45, top: 0.4, width: 0.25, height: 0.25 });
        assert_eq!(Crop::WHOLE.within(outer), outer);
    }

    #[test]
    fn nonsense_from_a_message_cannot_leave_the_photo() {
        let nan = Crop { left: f32::NAN, top: 0.0, width: 1.0, height: 1.0 };
        assert_eq!(nan.sanitised(), Crop::WHOLE);
        let outside = Crop { left: 5.0, top: -3.0, width: 0.0, height: 9.0 };
        let s = outside.sanitised();
        assert_eq!(s, Crop { left: 1.0 - MIN_SIDE, top: 0.0, width: MIN_SIDE, height: 1.0 });
        let photo = RgbImage::new(7, 3);
        let part = outside.apply(&photo);
        assert!(part.width() >= 1 && part.height() >= 1);
        assert_eq!(Crop::WHOLE.apply(&RgbImage::new(1, 1)).dimensions(), (1, 1));
    }

    #[test]
    fn the_cropped_part_holds_the_photo_s_pixels() {
        let photo = RgbImage::from_fn(10, 10, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let part = Crop { left: 0.3, top: 0.6, width: 0.2, height: 0.4 }.apply(&photo);
        assert_eq!(part.dimensions(), (2, 4));
        assert_eq!(part.get_pixel(0, 0), &image::Rgb([3, 6, 0]));
    }
}
