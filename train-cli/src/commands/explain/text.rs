//! The explain picture's text, drawn with a real font: DejaVu Sans,
//! rasterised by `ab_glyph` with smooth edges, so class names in any Latin,
//! Greek or Cyrillic script show as the terminal and the page show them.
//! The font is a subset (licence and origin in `assets/fonts/LICENSE`),
//! made with
//! `pyftsubset DejaVuSans.ttf --unicodes="U+0020-007E,U+00A0-017F,U+0370-03FF,U+0400-045F,U+2010-2027,U+2030-203A,U+20AC,U+2122,U+2190-2193,U+2212,U+2264-2265" --layout-features='kern,liga'`;
//! a character outside it is drawn as the font's empty box.

use ab_glyph::{Font as _, FontRef, GlyphId, PxScale, ScaleFont as _, point};
use anyhow::{Result, anyhow};

use super::canvas::{Canvas, Rgb};

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-subset.ttf");

/// The font at one size.
pub struct Text {
    font: FontRef<'static>,
    size: PxScale,
}

impl Text {
    /// The font at `size` pixels per em.
    pub fn new(size: f32) -> Result<Self> {
        let font = FontRef::try_from_slice(FONT)
            .map_err(|e| anyhow!("internal: the bundled font does not load: {e}"))?;
        Ok(Self { font, size: PxScale::from(size) })
    }

    /// The pen's position before each character of `text` and after the
    /// last, with the font's kerning, from 0.
    fn layout(&self, text: &str) -> (Vec<(GlyphId, f32)>, f32) {
        let scaled = self.font.as_scaled(self.size);
        let mut pen = 0.0;
        let mut previous: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                pen += scaled.kern(p, id);
            }
            glyphs.push((id, pen));
            pen += scaled.h_advance(id);
            previous = Some(id);
        }
        (glyphs, pen)
    }

    /// Width of `text` in pixels.
    pub fn width(&self, text: &str) -> u32 {
        self.layout(text).1.ceil() as u32
    }

    /// Height of a line in pixels, from the tallest ascender to the lowest
    /// descender.
    pub fn line_height(&self) -> u32 {
        let scaled = self.font.as_scaled(self.size);
        (scaled.ascent() - scaled.descent()).ceil() as u32
    }

    /// Draws `text` with the top-left corner of its line at (`x`, `y`).
    pub fn draw(&self, canvas: &mut Canvas, x: i64, y: i64, text: &str, colour: Rgb) {
        let baseline = y as f32 + self.font.as_scaled(self.size).ascent();
        for (id, pen) in self.layout(text).0 {
            let glyph = id.with_scale_and_position(self.size, point(x as f32 + pen, baseline));
            let Some(outlined) = self.font.outline_glyph(glyph) else { continue };
            let corner = outlined.px_bounds().min;
            outlined.draw(|gx, gy, coverage| {
                let px = corner.x as i64 + i64::from(gx);
                let py = corner.y as i64 + i64::from(gy);
                canvas.blend(px, py, colour, coverage);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: Rgb = [255, 255, 255];
    const BLACK: Rgb = [0, 0, 0];

    fn inked(canvas: &Canvas) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for y in 0..canvas.height() {
            for x in 0..canvas.width() {
                if canvas.pixel(x, y) != WHITE {
                    out.push((x, y));
                }
            }
        }
        out
    }

    fn drawn(text: &str) -> Canvas {
        let font = Text::new(20.0).unwrap();
        let mut canvas = Canvas::new(120, 40, WHITE);
        font.draw(&mut canvas, 5, 4, text, BLACK);
        canvas
    }

    #[test]
    fn text_stays_inside_its_line_and_width() {
        let font = Text::new(20.0).unwrap();
        let text = "Melanoma 57%";
        let mut canvas = Canvas::new(200, 40, WHITE);
        font.draw(&mut canvas, 10, 5, text, BLACK);
        let pixels = inked(&canvas);
        assert!(pixels.len() > 100, "too little ink: {}", pixels.len());
        let (w, h) = (font.width(text), font.line_height());
        assert!((90..150).contains(&w), "width {w}");
        assert!(
            pixels.iter().all(|&(x, y)| (10..10 + w + 1).contains(&x) && (5..5 + h).contains(&y)),
            "ink outside {w}x{h}"
        );
        assert_eq!(font.width(""), 0);
        assert!(font.width("ab") > font.width("a"));
    }

    #[test]
    fn edges_are_smooth_and_a_descender_goes_lower() {
        let canvas = drawn("o");
        assert!(
            inked(&canvas).iter().any(|&(x, y)| {
                let [r, ..] = canvas.pixel(x, y);
                r > 40 && r < 215
            }),
            "no grey edge pixel"
        );
        let lowest = |c: &Canvas| inked(c).iter().map(|p| p.1).max().unwrap();
        assert!(lowest(&drawn("y")) > lowest(&drawn("v")) + 2);
    }

    #[test]
    fn accented_greek_and_cyrillic_letters_have_their_own_glyphs() {
        // An accent adds ink above the letter; other scripts are not boxes.
        let top = |c: &Canvas| inked(c).iter().map(|p| p.1).min().unwrap();
        assert!(top(&drawn("é")) + 2 < top(&drawn("e")));
        let missing = inked(&drawn("\u{4e2d}"));
        for letter in ["α", "ж", "ß"] {
            assert_ne!(inked(&drawn(letter)), missing, "{letter} is drawn as the missing glyph");
        }
    }
}
