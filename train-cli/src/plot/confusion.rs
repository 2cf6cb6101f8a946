//! The confusion matrix as a heat map: rows are the truth, columns the
//! prediction, each cell coloured by its share of the row (so rare classes
//! are as readable as common ones) and labelled with its count.

use super::axes::title;
use super::canvas::Canvas;
use super::font::{draw_text, draw_text_centred, draw_text_up, text_height, text_width};
use super::style::{GRID, INK, SMALL, TEXT, WHITE, mix};

/// The colour of a full row share; white is none.
const DARK_BLUE: [u8; 3] = [8, 48, 107];
const MARGIN: i64 = 24;

/// Pixel geometry of the grid of cells.
struct Grid {
    left: i64,
    top: i64,
    cell: i64,
    /// Column codes are turned up when they are wider than a cell.
    turned: bool,
    code_width: i64,
}

impl Grid {
    fn new(codes: &[&str]) -> Self {
        let k = codes.len().max(1) as i64;
        let cell = (448 / k).clamp(48, 96);
        let code_width = codes.iter().map(|c| i64::from(text_width(c, TEXT))).max().unwrap_or(0);
        let line = i64::from(text_height(TEXT));
        Self { left: MARGIN + line + 14 + code_width + 10, top: 64, cell, turned: code_width > cell - 6, code_width }
    }

    fn size(&self, k: usize) -> i64 {
        self.cell * k as i64
    }
}

/// Row share of a cell: its count over the row's total (0 for an empty row).
fn share(row: &[usize], count: usize) -> f64 {
    let total: usize = row.iter().sum();
    if total == 0 { 0.0 } else { count as f64 / total as f64 }
}

/// `confusion[truth][prediction]` drawn with the class `codes` on both axes.
pub fn draw(confusion: &[Vec<usize>], codes: &[&str], heading: &str) -> Canvas {
    let k = codes.len();
    let grid = Grid::new(codes);
    let line = i64::from(text_height(TEXT));
    let size = grid.size(k);
    let column_labels = if grid.turned { grid.code_width } else { line };
    let bar_left = grid.left + size + 28;
    let width = bar_left + 18 + 10 + i64::from(text_width("1.0", TEXT)) + 12 + line + MARGIN;
    let height = grid.top + size + 10 + column_labels + 12 + line + MARGIN;
    let mut canvas = Canvas::new(width as u32, height as u32, WHITE);
    title(&mut canvas, heading);

    for (r, row) in confusion.iter().enumerate().take(k) {
        for (c, &count) in row.iter().enumerate().take(k) {
            let t = share(row, count);
            let (x, y) = (grid.left + c as i64 * grid.cell, grid.top + r as i64 * grid.cell);
            canvas.fill_rect(x, y, grid.cell, grid.cell, mix(WHITE, DARK_BLUE, t));
            canvas.stroke_rect(x, y, grid.cell + 1, grid.cell + 1, 1, GRID);
            let text = count.to_string();
            // Large counts in a small cell fall back to the small size.
            let scale = if i64::from(text_width(&text, TEXT)) <= grid.cell - 6 { TEXT } else { SMALL };
            let ink = if t > 0.5 { WHITE } else { INK };
            draw_text_centred(&mut canvas, x + grid.cell / 2, y + (grid.cell - 7 * i64::from(scale)) / 2, &text, scale, ink);
        }
    }
    canvas.stroke_rect(grid.left, grid.top, size + 1, size + 1, 1, INK);

    // Row codes right-aligned left of the grid, the axis title left of them.
    for (r, code) in codes.iter().enumerate() {
        let y = grid.top + r as i64 * grid.cell + (grid.cell - 7 * i64::from(TEXT)) / 2;
        draw_text(&mut canvas, grid.left - 10 - i64::from(text_width(code, TEXT)), y, code, TEXT, INK);
    }
    draw_text_up(&mut canvas, MARGIN, grid.top + (size - i64::from(text_width("truth", TEXT))) / 2, "truth", TEXT, INK);
    let below = grid.top + size + 10;
    for (c, code) in codes.iter().enumerate() {
        let centre = grid.left + c as i64 * grid.cell + grid.cell / 2;
        if grid.turned {
            draw_text_up(&mut canvas, centre - line / 2, below + grid.code_width - i64::from(text_width(code, TEXT)), code, TEXT, INK);
        } else {
            draw_text_centred(&mut canvas, centre, below, code, TEXT, INK);
        }
    }
    draw_text_centred(&mut canvas, grid.left + size / 2, below + column_labels + 12, "prediction", TEXT, INK);

    // Colour bar: the row share each shade stands for.
    for y in 0..size {
        canvas.fill_rect(bar_left, grid.top + y, 18, 1, mix(WHITE, DARK_BLUE, 1.0 - y as f64 / (size - 1).max(1) as f64));
    }
    canvas.stroke_rect(bar_left, grid.top, 18, size, 1, INK);
    let labels_left = bar_left + 18 + 10;
    for (label, at) in [("1.0", 0.0), ("0.5", 0.5), ("0.0", 1.0)] {
        let y = grid.top + (at * (size - 1) as f64) as i64 - 7 * i64::from(TEXT) / 2;
        draw_text(&mut canvas, labels_left, y.clamp(grid.top, grid.top + size - 7 * i64::from(TEXT)), label, TEXT, INK);
    }
    let caption = "share of row";
    draw_text_up(
        &mut canvas,
        labels_left + i64::from(text_width("1.0", TEXT)) + 12,
        grid.top + (size - i64::from(text_width(caption, TEXT))) / 2,
        caption,
        TEXT,
        INK,
    );
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(p: [u8; 3]) -> u32 {
        p.iter().map(|&v| u32::from(v)).sum()
    }

    #[test]
    fn the_cell_with_the_largest_share_is_darkest_and_empty_cells_are_white() {
        let codes = ["akiec", "bcc", "mel"];
        // Row shares: 50/52 is the largest share and the largest count.
        let confusion = vec![vec![50, 2, 0], vec![3, 10, 4], vec![1, 1, 5]];
        let canvas = draw(&confusion, &codes, "Confusion matrix");
        let grid = Grid::new(&codes);
        // A pixel just inside each cell's top-left corner, clear of the count.
        let shade = |r: i64, c: i64| canvas.pixel((grid.left + c * grid.cell + 3) as u32, (grid.top + r * grid.cell + 3) as u32);
        let darkest = (0..3).flat_map(|r| (0..3).map(move |c| (r, c))).min_by_key(|&(r, c)| luminance(shade(r, c)));
        assert_eq!(darkest, Some((0, 0)));
        assert_eq!(shade(0, 2), WHITE);
        assert!(luminance(shade(1, 1)) < luminance(shade(1, 2)));
    }

    #[test]
    fn size_follows_the_class_count_and_the_png_decodes() {
        let codes = ["a", "b"];
        let canvas = draw(&[vec![1, 0], vec![0, 1]], &codes, "t");
        let grid = Grid::new(&codes);
        assert_eq!(grid.cell, 96);
        assert!(canvas.width() as i64 > grid.left + 2 * 96 && canvas.height() as i64 > grid.top + 2 * 96);
        let decoded = image::load_from_memory(&canvas.to_png().unwrap()).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (canvas.width(), canvas.height()));
        let first = decoded.get_pixel(0, 0);
        assert!(decoded.pixels().any(|p| p != first), "the plot is blank");
    }
}
