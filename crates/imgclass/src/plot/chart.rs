//! Line charts (the loss curves, the learning-rate finder) drawn with `plotters`, as PNG for the
//! run folder and as SVG for `report.html`, where they stay sharp at any zoom.
//!
//! Text is drawn with an embedded font (a subset of DejaVu Sans, `assets/`, see its README)
//! through plotters' `ab_glyph` backend, so no system font or fontconfig is needed. That backend
//! keeps its fonts in a process-wide table; the one font is registered there once, by
//! [`Chart::draw`], and never changes.
//!
//! Axes are ours, not plotters' defaults: ticks at round values ([`nice_ticks`]), integer
//! epochs, or decades on a log axis ([`decade_ticks`]; the data are drawn at `log10(x)`).

use std::sync::Once;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{IoContext, Result};

/// The embedded font (ASCII and Latin-1 of DejaVu Sans).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");
/// The family name the charts ask for and the embedded font is registered under.
const FAMILY: &str = "sans-serif";
/// Size of a chart, in pixels (PNG) or CSS pixels (SVG).
const SIZE: (u32, u32) = (720, 420);

/// Matplotlib's "tab10" colours, for series told apart by colour.
pub(crate) const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Style {
    /// A line `width` pixels wide, at `opacity` (0–1).
    Line { width: u32, opacity: f64 },
    /// A line 2 pixels wide with a dot on every point.
    LineDots,
    /// A dot of `radius` pixels on every point, at `opacity`, no line (a scatter plot).
    Dots { radius: u32, opacity: f64 },
    /// A bar from 0 up to every point, `width` wide in x's units (a histogram).
    Bars { width: f64 },
}

/// One named series of `(x, y)` points (non-finite points are left out).
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) color: RGBColor,
    pub(crate) style: Style,
}

/// The x axis: its ticks and how they are written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum XAxis {
    /// Epochs: integer ticks from 0 to the last epoch.
    Epochs(usize),
    /// A log axis over `[lo, hi]` (positive): points are given as `log10(x)`, ticks at decades.
    Log10 { lo: f64, hi: f64 },
    /// The interval [0, 1] (a rate), ticks every 0.2.
    Unit,
    /// A linear axis from the first of these ticks to the last (see [`nice_ticks`]).
    Ticks(Vec<f64>),
}

/// A line chart: a title, axis captions, series, and optionally a marked x position.
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) x_caption: String,
    pub(crate) y_caption: String,
    pub(crate) x_axis: XAxis,
    pub(crate) series: Vec<Series>,
    /// A vertical line at this x (in the series' coordinates) with its label.
    pub(crate) mark: Option<(f64, String)>,
    /// The y axis' ticks; `None`: round ticks around the data (and 0 when there are bars).
    pub(crate) y_ticks: Option<Vec<f64>>,
}

impl Chart {
    /// The chart as an RGB picture.
    pub fn png(&self) -> std::io::Result<RgbImage> {
        let (w, h) = SIZE;
        let mut buffer = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
            self.draw(&root).map_err(std::io::Error::other)?;
            root.present().map_err(std::io::Error::other)?;
        }
        Ok(RgbImage::from_raw(w, h, buffer).expect("a buffer of the chart's size"))
    }

    /// Writes the chart as PNG to `path`, atomically.
    pub fn save_png(&self, path: &std::path::Path) -> Result<()> {
        super::save_png(&self.png().at(path)?, path)
    }

    /// The chart as an SVG document (an `<svg>` element that can be inlined in HTML).
    pub fn svg(&self) -> std::io::Result<String> {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            self.draw(&root).map_err(std::io::Error::other)?;
            root.present().map_err(std::io::Error::other)?;
        }
        Ok(out)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        static REGISTER: Once = Once::new();
        REGISTER
            .call_once(|| assert!(register_font(FAMILY, FontStyle::Normal, FONT).is_ok(), "the embedded font parses"));
        root.fill(&WHITE)?;
        let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
        let mut ys: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().filter(finite).map(|p| p.1)).collect();
        if self.series.iter().any(|s| matches!(s.style, Style::Bars { .. })) {
            ys.push(0.0);
        }
        let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &y| (l.min(y), h.max(y)));
        let y_ticks = match &self.y_ticks {
            Some(t) if t.len() >= 2 => t.clone(),
            _ if ys.is_empty() => vec![0.0, 1.0],
            _ => nice_ticks(lo, hi, 6),
        };
        let y_range = y_ticks[0]..y_ticks[y_ticks.len() - 1];
        let y_decimals = decimals(y_ticks[1] - y_ticks[0]);
        let x_ticks = match &self.x_axis {
            XAxis::Epochs(n) => epoch_ticks(*n),
            XAxis::Log10 { lo, hi } => decade_ticks(*lo, *hi),
            XAxis::Unit => nice_ticks(0.0, 1.0, 6),
            XAxis::Ticks(t) if t.len() >= 2 => t.clone(),
            XAxis::Ticks(_) => vec![0.0, 1.0],
        };
        let x_decimals = decimals(x_ticks[1] - x_ticks[0]);
        let x_label = |v: &f64| match self.x_axis {
            XAxis::Epochs(_) => format!("{}", v.round()),
            XAxis::Log10 { .. } => format!("1e{}", v.round()),
            XAxis::Unit => format!("{v:.1}"),
            XAxis::Ticks(_) => format!("{v:.x_decimals$}"),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(Ticked::new(x_ticks), Ticked::new(y_ticks))?;
        chart
            .configure_mesh()
            .x_desc(&self.x_caption)
            .y_desc(&self.y_caption)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .bold_line_style(RGBColor(225, 225, 225))
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v| format!("{v:.y_decimals$}"))
            .draw()?;
        for s in &self.series {
            let points: Vec<(f64, f64)> = s.points.iter().filter(finite).copied().collect();
            // The legend's swatch is drawn as the series is: a light series has a light swatch.
            let legend_color = match s.style {
                Style::Line { opacity, .. } | Style::Dots { opacity, .. } => s.color.mix(opacity.max(0.5)),
                Style::LineDots | Style::Bars { .. } => s.color.mix(1.0),
            };
            let drawn = match s.style {
                Style::Line { width, opacity } => {
                    chart.draw_series(LineSeries::new(points, s.color.mix(opacity).stroke_width(width)))?
                }
                Style::LineDots => {
                    chart.draw_series(LineSeries::new(points.clone(), s.color.stroke_width(2)))?;
                    chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, s.color.filled())))?
                }
                Style::Dots { radius, opacity } => chart
                    .draw_series(points.into_iter().map(|p| Circle::new(p, radius, s.color.mix(opacity).filled())))?,
                Style::Bars { width } => chart.draw_series(points.into_iter().map(|(x, y)| {
                    Rectangle::new([(x - width / 2.0, 0.0), (x + width / 2.0, y)], s.color.mix(0.8).filled())
                }))?,
            };
            drawn
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], legend_color.stroke_width(3)));
        }
        if let Some((x, label)) = &self.mark {
            let red = RGBColor(214, 39, 40);
            chart.draw_series(LineSeries::new([(*x, y_range.start), (*x, y_range.end)], red.stroke_width(1)))?;
            let style = TextStyle::from((FAMILY, 13).into_font()).color(&red);
            let at = chart.backend_coord(&(*x, y_range.end));
            root.draw(&Text::new(label.clone(), (at.0 + 5, at.1 + 4), style))?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
    }
}

/// A linear axis from its first tick to its last, labelled at exactly those ticks.
struct Ticked(Vec<f64>);

impl Ticked {
    fn new(ticks: Vec<f64>) -> Self {
        Ticked(ticks)
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (lo, hi) = (self.0[0], self.0[self.0.len() - 1]);
        let t = (value - lo) / (hi - lo);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.0.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.0[0]..self.0[self.0.len() - 1]
    }
}

/// Ticks at round values (1, 2 or 5 × a power of ten apart) that enclose `[lo, hi]`, at most
/// about `max` of them; a flat range is widened around its value.
pub(crate) fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let (lo, hi) = if hi - lo > 1e-12 * lo.abs().max(1.0) { (lo, hi) } else { (lo - 0.5, hi + 0.5) };
    let rough = (hi - lo) / max.saturating_sub(1).max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let m = [1.0, 2.0, 5.0, 10.0].into_iter().find(|&m| m * power >= rough).unwrap_or(10.0);
    let step = m * power;
    let (first, last) = ((lo / step + 1e-9).floor() as i64, (hi / step - 1e-9).ceil() as i64);
    // k·m is an integer; dividing it by 10ⁿ (not multiplying by 10⁻ⁿ) gives the closest double
    // to the decimal tick: 0.3, not 0.30000000000000004.
    let tick = |k: i64| if power < 1.0 { (k as f64 * m) / (1.0 / power).round() } else { k as f64 * m * power };
    (first..=last).map(tick).collect()
}

/// Integer epoch ticks from 0 to `epochs` (every 1, 2, 5, 10… epochs, at most about 11).
pub(crate) fn epoch_ticks(epochs: usize) -> Vec<f64> {
    let epochs = epochs.max(1);
    let step = nice_ticks(0.0, epochs as f64, 11).get(1).map_or(1.0, |s| s.max(1.0).round());
    let mut ticks: Vec<f64> = (0..).map(|k| k as f64 * step).take_while(|&t| t < epochs as f64).collect();
    ticks.push(epochs as f64);
    ticks
}

/// The decades (as exponents: -7 for 1e-7) from the one at or below `lo` to the one at or
/// above `hi`; at least two.
pub(crate) fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let first = lo.log10().floor();
    let last = hi.log10().ceil().max(first + 1.0);
    (first as i64..=last as i64).map(|e| e as f64).collect()
}

/// The decimals that write every multiple of `step` exactly (0.25 → 2, 0.1 → 1, 5 → 0).
fn decimals(step: f64) -> usize {
    (0..8).find(|&d| ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs() < 1e-6).unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(x_axis: XAxis, points: Vec<(f64, f64)>) -> Chart {
        let series =
            vec![Series { name: "loss".into(), points, color: RGBColor(31, 119, 180), style: Style::LineDots }];
        Chart {
            title: "t".into(),
            x_caption: "x".into(),
            y_caption: "y".into(),
            x_axis,
            series,
            mark: None,
            y_ticks: None,
        }
    }

    #[test]
    fn nice_ticks_are_round_and_enclose_the_data() {
        assert_eq!(nice_ticks(0.374, 0.853, 6), vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
        assert_eq!(nice_ticks(0.0, 10.0, 6), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = nice_ticks(1.679, 2.406, 6);
        assert!(t[0] <= 1.679 && *t.last().unwrap() >= 2.406 && t.len() <= 8, "{t:?}");
        assert_eq!(nice_ticks(0.5, 0.5, 6), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    }

    #[test]
    fn ticks_are_written_with_the_decimals_their_step_needs() {
        assert_eq!((decimals(0.1), decimals(0.25), decimals(5.0), decimals(0.02)), (1, 2, 0, 2));
    }

    #[test]
    fn epoch_ticks_are_integers_from_zero_to_the_last_epoch() {
        assert_eq!(epoch_ticks(1), vec![0.0, 1.0]);
        assert_eq!(epoch_ticks(3), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(epoch_ticks(40), (0..=8).map(|k| k as f64 * 5.0).collect::<Vec<_>>());
        assert_eq!(epoch_ticks(23), vec![0.0, 5.0, 10.0, 15.0, 20.0, 23.0]);
    }

    #[test]
    fn a_log_axis_spans_whole_decades_around_its_range() {
        assert_eq!(decade_ticks(1e-7, 10.0), (-7..=1).map(|e| e as f64).collect::<Vec<_>>());
        assert_eq!(decade_ticks(3e-6, 0.2), vec![-6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0]);
        assert_eq!(decade_ticks(1e-3, 1e-3), vec![-3.0, -2.0]);
    }

    #[test]
    fn a_chart_draws_its_lines_on_white_as_png_and_as_svg() {
        let c = chart(XAxis::Epochs(2), vec![(1.0, 0.9), (2.0, 0.4)]);
        let png = c.png().unwrap();
        assert_eq!(png.dimensions(), SIZE);
        assert_eq!(png.get_pixel(0, 0).0, [255, 255, 255]);
        assert!(png.pixels().any(|p| p.0 == [31, 119, 180]), "the series' colour is drawn");
        assert!(png.pixels().filter(|p| p.0[0] < 100 && p.0[1] < 100).count() > 200, "dark text and axes");
        let svg = c.svg().unwrap().replace('\n', "");
        assert!(svg.starts_with("<svg") && svg.contains(">loss</text>") && svg.contains(">0.4</text>"), "{svg}");
    }

    #[test]
    fn a_log_chart_labels_its_decades() {
        let c = chart(XAxis::Log10 { lo: 1e-6, hi: 1e-1 }, vec![(-5.5, 2.3), (-2.0, 1.7)]);
        let svg = c.svg().unwrap().replace('\n', "");
        assert!(svg.contains(">1e-6</text>") && svg.contains(">1e-1</text>"), "{svg}");
    }
}
