//! Pictures: line charts with `plotters` ([`chart`]; a regression's scatter plot and residuals
//! in [`values`]), and the rest on a small RGB canvas with an
//! 8×8 bitmap font (public-domain `font8x8` glyphs) — confusion matrices and grids of captioned
//! images, which are cells and pixels placed one by one, where a chart library would add axes
//! and text layout they do not use.

use std::path::Path;

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

use crate::error::{IoContext, Result};
use crate::metrics::Confusion;
use crate::util::fs::atomic_write;

pub(crate) mod chart;
pub(crate) mod values;

pub use values::save_value_charts;

/// Draws the confusion matrix (fastai's `plot_confusion_matrix` layout) with `title` and
/// writes it as PNG to `path`, atomically.
pub fn save_confusion_png(confusion: &Confusion, title: &str, path: &Path) -> Result<()> {
    confusion_png(confusion, title).save_png(path)
}

/// An RGB drawing surface.
pub(crate) struct Canvas {
    /// The pixels.
    pub(crate) image: RgbImage,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: u32, height: u32) -> Self {
        Self { image: RgbImage::from_pixel(width, height, Rgb([255, 255, 255])) }
    }

    /// Fills a rectangle (clipped to the canvas).
    pub fn rect(&mut self, x: i64, y: i64, w: u32, h: u32, color: [u8; 3]) {
        for yy in y.max(0)..(y + h as i64).min(self.image.height() as i64) {
            for xx in x.max(0)..(x + w as i64).min(self.image.width() as i64) {
                self.image.put_pixel(xx as u32, yy as u32, Rgb(color));
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each glyph pixel `scale` pixels wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::BASIC_FONTS.get('?')).unwrap();
            let gx = x + (i as i64) * 8 * scale as i64;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        self.rect(gx + col * scale as i64, y + row as i64 * scale as i64, scale, scale, color);
                    }
                }
            }
        }
    }

    /// Width in pixels of `text` at `scale`.
    pub fn text_width(text: &str, scale: u32) -> u32 {
        text.chars().count() as u32 * 8 * scale
    }

    /// Draws an image given as `channels × h × w` bytes (1 channel: grey, 3: RGB) with its
    /// top-left corner at `(x0, y0)`, each pixel `zoom × zoom`; where `heat` gives a colour
    /// for a point of the image (in its pixels, `(x, y)`), that colour is blended in at half
    /// opacity.
    pub fn chw_image(
        &mut self,
        x0: u32,
        y0: u32,
        bytes: &[u8],
        (h, w): (usize, usize),
        zoom: usize,
        heat: impl Fn(f32, f32) -> Option<[u8; 3]>,
    ) {
        let plane = h * w;
        let channels = bytes.len() / plane.max(1);
        for y in 0..(h * zoom) as u32 {
            for x in 0..(w * zoom) as u32 {
                let p = (y as usize / zoom) * w + x as usize / zoom;
                let rgb =
                    if channels == 3 { [bytes[p], bytes[plane + p], bytes[2 * plane + p]] } else { [bytes[p]; 3] };
                let point = ((x as f32 + 0.5) / zoom as f32, (y as f32 + 0.5) / zoom as f32);
                let out = match heat(point.0, point.1) {
                    Some(c) => std::array::from_fn(|i| (rgb[i] as u16 + c[i] as u16).div_ceil(2) as u8),
                    None => rgb,
                };
                self.image.put_pixel(x0 + x, y0 + y, Rgb(out));
            }
        }
    }

    /// Writes the canvas as PNG, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        save_png(&self.image, path)
    }
}

/// Writes `image` as PNG to `path`, atomically.
pub(crate) fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(std::io::Error::other)
        .at(path)?;
    atomic_write(path, &bytes)
}

/// A colour for each point `(x, y)` of a picture (a heat map to blend over it).
pub(crate) type Heat<'a> = Box<dyn Fn(f32, f32) -> [u8; 3] + 'a>;

/// One picture of a [`captioned_grid`]: `channels × h × w` bytes, caption lines with their
/// colours, and optionally a colour to blend over each point (see [`Canvas::chw_image`]).
pub(crate) struct Tile<'a> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) captions: Vec<(String, [u8; 3])>,
    pub(crate) heat: Option<Heat<'a>>,
}

/// Pictures of `h × w` pixels in a near-square grid under `title`, each enlarged to at least
/// `min_tile` pixels and captioned below (lines cut to the tile's width).
pub(crate) fn captioned_grid(title: &str, dims: (usize, usize), min_tile: usize, tiles: &[Tile]) -> Canvas {
    let columns = (tiles.len() as f64).sqrt().ceil().max(1.0) as usize;
    captioned_rows(title, dims, min_tile, columns, tiles)
}

/// [`captioned_grid`] with `columns` pictures a row.
pub(crate) fn captioned_rows(
    title: &str,
    (h, w): (usize, usize),
    min_tile: usize,
    columns: usize,
    tiles: &[Tile],
) -> Canvas {
    const GAP: u32 = 8;
    let zoom = min_tile.div_ceil(w.max(h)).max(1);
    let (tw, th) = ((w * zoom) as u32, (h * zoom) as u32);
    let lines = tiles.iter().map(|t| t.captions.len()).max().unwrap_or(0) as u32;
    let caption = 10 * lines + 4;
    let columns = columns.max(1);
    let rows = tiles.len().div_ceil(columns);
    let width = (columns as u32 * (tw + GAP) + GAP).max(Canvas::text_width(title, 1) + 2 * GAP);
    let mut canvas = Canvas::new(width, 20 + rows as u32 * (th + caption + GAP) + GAP);
    canvas.text(GAP as i64, 6, title, 1, [0, 0, 0]);
    for (k, tile) in tiles.iter().enumerate() {
        let (x0, y0) =
            (GAP + (k % columns) as u32 * (tw + GAP), 20 + GAP + (k / columns) as u32 * (th + caption + GAP));
        canvas.chw_image(x0, y0, &tile.bytes, (h, w), zoom, |x, y| tile.heat.as_ref().map(|f| f(x, y)));
        for (line, (text, colour)) in tile.captions.iter().enumerate() {
            let cut: String = text.chars().take((tw / 8) as usize).collect();
            canvas.text(x0 as i64, (y0 + th + 3 + 10 * line as u32) as i64, &cut, 1, *colour);
        }
    }
    canvas
}

/// The jet colormap: dark blue (0) through cyan, yellow, to dark red (1).
pub(crate) fn jet(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let channel = |centre: f32| ((1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(3.0), channel(2.0), channel(1.0)]
}

/// matplotlib's "Blues" colormap, from white (0) to dark blue (1).
fn blues(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] =
        [[247., 251., 255.], [198., 219., 239.], [107., 174., 214.], [33., 113., 181.], [8., 48., 107.]];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let mut out = [0u8; 3];
    for c in 0..3 {
        out[c] = (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f).round() as u8;
    }
    out
}

/// The caption over a confusion matrix's columns.
const COLUMNS: &str = "predicted ->  (columns: class index)";

/// Renders a confusion matrix as fastai's `plot_confusion_matrix` does: counts in cells shaded
/// by their share of the actual class, actual classes as rows, predicted as columns.
pub(crate) fn confusion_png(confusion: &Confusion, title: &str) -> Canvas {
    let k = confusion.classes.len();
    let cell = if k <= 12 {
        44
    } else if k <= 30 {
        28
    } else {
        16
    };
    let label_w = confusion.classes.iter().map(|c| Canvas::text_width(&format!("{c} "), 1)).max().unwrap_or(0) + 28;
    let (left, top) = (label_w + 24, 56);
    // As wide as the title and the caption above the columns when the matrix is narrower.
    let captions = (Canvas::text_width(title, 2) + 20).max(left + Canvas::text_width(COLUMNS, 1) + 12);
    let (w, h) = ((left + cell * k as u32 + 24).max(captions), top + cell * k as u32 + 48);
    let mut cv = Canvas::new(w, h);
    cv.text(10, 10, title, 2, [0, 0, 0]);
    cv.text(left as i64, 36, COLUMNS, 1, [60, 60, 60]);
    for (i, name) in confusion.classes.iter().enumerate() {
        let y = top + cell * i as u32 + cell / 2 - 4;
        let label = format!("{i:>2} {name}");
        cv.text((left - 8 - Canvas::text_width(&label, 1)) as i64, y as i64, &label, 1, [0, 0, 0]);
        let x = left + cell * i as u32 + cell / 2 - Canvas::text_width(&i.to_string(), 1) / 2;
        cv.text(x as i64, (top + cell * k as u32 + 8) as i64, &i.to_string(), 1, [0, 0, 0]);
    }
    cv.text(4, (top + cell * k as u32 + 28) as i64, "rows: actual class", 1, [60, 60, 60]);
    for (a, row) in confusion.counts.iter().enumerate() {
        let row_total: usize = row.iter().sum::<usize>().max(1);
        for (p, &n) in row.iter().enumerate() {
            let share = n as f64 / row_total as f64;
            let (x, y) = (left + cell * p as u32, top + cell * a as u32);
            cv.rect(x as i64, y as i64, cell - 1, cell - 1, blues(share));
            if cell >= 28 {
                let s = n.to_string();
                let tx = x + cell / 2 - Canvas::text_width(&s, 1) / 2;
                let color = if share > 0.5 { [255, 255, 255] } else { [0, 0, 0] };
                cv.text(tx as i64, (y + cell / 2 - 4) as i64, &s, 1, color);
            }
        }
    }
    cv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jet_colormap_runs_from_blue_to_red() {
        assert_eq!(jet(0.0), [0, 0, 128]);
        assert_eq!(jet(0.5), [128, 255, 128]);
        assert_eq!(jet(1.0), [128, 0, 0]);
    }

    #[test]
    fn a_confusion_png_shades_the_diagonal_darker_than_empty_cells() {
        let classes: Vec<String> = vec!["a".into(), "b".into()];
        let c = Confusion::new(&classes, &[0, 0, 0, 1], &[0, 0, 0, 1]);
        let cv = confusion_png(&c, "test");
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.png");
        cv.save_png(&p).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), cv.image.dimensions());
        // Corner pixel of cell (0,0) is dark blue; of cell (0,1) is near white. The cells start
        // right of the widest class name ("a " or "b ", 16 px) and its margins (28 + 24).
        let (left, top, cell) = (Canvas::text_width("a ", 1) + 28 + 24, 56, 44);
        let dark = cv.image.get_pixel(left + 1, top + 1);
        let light = cv.image.get_pixel(left + cell + 1, top + 1);
        assert!(dark[2] < 150 && light[0] > 240, "{dark:?} {light:?}");
        // A two-class matrix is narrower than its title: the picture widens to hold it.
        let title = "Validation: accuracy 80.83%";
        assert!(confusion_png(&c, title).image.width() >= Canvas::text_width(title, 2) + 20);
    }

    #[test]
    fn text_draws_some_pixels_and_spaces_draw_none() {
        let mut cv = Canvas::new(20, 10);
        cv.text(0, 0, " ", 1, [0, 0, 0]);
        assert!(cv.image.pixels().all(|p| p[0] == 255));
        cv.text(0, 0, "A", 1, [0, 0, 0]);
        assert!(cv.image.pixels().any(|p| p[0] == 0));
    }
}
