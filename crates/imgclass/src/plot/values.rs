//! The two charts of a model that predicts numbers (regression, counts): predicted against
//! actual, a point per image beside the diagonal where they are equal, and the histogram of
//! the residuals (predicted − actual), beside the line of no error.

use std::path::Path;

use plotters::style::RGBColor;

use super::chart::{Chart, Series, Style, TAB10, XAxis, nice_ticks};
use crate::error::Result;
use crate::metrics::ValueMetrics;

/// Bars of the residual histogram, about.
const BINS: usize = 30;

/// Column `c` of the `k`-wide rows `v`.
fn column(v: &[f32], k: usize, c: usize) -> impl Iterator<Item = f64> + '_ {
    v.iter().skip(c).step_by(k).map(|&x| f64::from(x))
}

/// The smallest and largest finite values of `v` (`(0, 1)` when there are none).
fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    if lo <= hi { (lo, hi) } else { (0.0, 1.0) }
}

/// Predicted against actual: one point per image and target, on axes with the same ticks, so
/// that the dashed diagonal (a perfect model) runs at 45°. `what` names the images.
pub(crate) fn scatter_chart(m: &ValueMetrics, what: &str) -> Chart {
    let k = m.per_target.len().max(1);
    let (lo, hi) = range(m.predicted.iter().chain(&m.actual).map(|&x| f64::from(x)));
    let ticks = nice_ticks(lo, hi, 7);
    let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
    let opacity = if m.actual.len() / k > 2000 { 0.2 } else { 0.4 };
    let mut series: Vec<Series> = m
        .per_target
        .iter()
        .enumerate()
        .map(|(c, t)| Series {
            name: format!("{}: R² {:.3}", t.name, t.r2),
            points: column(&m.actual, k, c).zip(column(&m.predicted, k, c)).collect(),
            color: TAB10[c % TAB10.len()],
            style: Style::Dots { radius: 3, opacity },
        })
        .collect();
    series.push(Series {
        name: "predicted = actual".into(),
        points: vec![(first, first), (last, last)],
        color: RGBColor(110, 110, 110),
        style: Style::Line { width: 1, opacity: 1.0 },
    });
    Chart {
        title: format!("Predicted vs actual ({what})"),
        x_caption: "actual".into(),
        y_caption: "predicted".into(),
        x_axis: XAxis::Ticks(ticks.clone()),
        series,
        mark: None,
        y_ticks: Some(ticks),
    }
}

/// The histogram of the residuals (predicted − actual) of each target, about [`BINS`] bars of
/// a round width, with a line at 0.
pub(crate) fn residuals_chart(m: &ValueMetrics, what: &str) -> Chart {
    let k = m.per_target.len().max(1);
    let residual = |c: usize| column(&m.predicted, k, c).zip(column(&m.actual, k, c)).map(|(p, a)| p - a);
    let (lo, hi) = range((0..k).flat_map(residual));
    let fine = nice_ticks(lo, hi, BINS + 1);
    let width = if fine.len() >= 2 { fine[1] - fine[0] } else { 1.0 };
    let series = m
        .per_target
        .iter()
        .enumerate()
        .map(|(c, t)| {
            let mut counts = vec![0usize; fine.len().max(1)];
            for r in residual(c).filter(|r| r.is_finite()) {
                let bin = ((r - fine[0]) / width).floor().max(0.0) as usize;
                let last = counts.len() - 1;
                counts[bin.min(last)] += 1;
            }
            let points = counts.iter().enumerate().map(|(b, &n)| (fine[0] + (b as f64 + 0.5) * width, n as f64));
            Series {
                name: format!("{}: MAE {:.3}", t.name, t.mae),
                points: points.filter(|p| p.1 > 0.0).collect(),
                color: TAB10[c % TAB10.len()],
                style: Style::Bars { width: width * 0.9 },
            }
        })
        .collect();
    let (x_lo, x_hi) = (fine[0].min(0.0), (fine[0] + fine.len() as f64 * width).max(0.0));
    Chart {
        title: format!("Residuals, predicted − actual ({what})"),
        x_caption: "predicted − actual".into(),
        y_caption: "images".into(),
        x_axis: XAxis::Ticks(nice_ticks(x_lo, x_hi, 9)),
        series,
        mark: Some((0.0, "no error".into())),
        y_ticks: None,
    }
}

/// Writes the scatter plot and the residual histogram of `m` (on images `what`) as PNG to
/// `scatter` and `residuals`, atomically.
pub fn save_value_charts(m: &ValueMetrics, what: &str, scatter: &Path, residuals: &Path) -> Result<()> {
    scatter_chart(m, what).save_png(scatter)?;
    residuals_chart(m, what).save_png(residuals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::values;

    fn metrics() -> ValueMetrics {
        let (pred, truth) = ([1.0, 2.5, 2.0, 4.5], [1.0, 2.0, 3.0, 4.0]);
        values(&pred, &truth, &["angle".into()], &[2.5], false)
    }

    #[test]
    fn the_scatter_plot_has_a_point_per_image_on_square_axes_and_the_diagonal() {
        let c = scatter_chart(&metrics(), "validation");
        assert_eq!(c.series[0].points, vec![(1.0, 1.0), (2.0, 2.5), (3.0, 2.0), (4.0, 4.5)]);
        assert_eq!(
            Some(match &c.x_axis {
                XAxis::Ticks(t) => t.clone(),
                _ => vec![],
            }),
            c.y_ticks
        );
        let diagonal = &c.series[1].points;
        assert!(diagonal[0].0 <= 1.0 && diagonal[1].0 >= 4.5 && diagonal.iter().all(|p| p.0 == p.1), "{diagonal:?}");
    }

    #[test]
    fn the_residual_histogram_counts_every_image_once() {
        let c = residuals_chart(&metrics(), "validation");
        let bars = &c.series[0].points;
        assert_eq!(bars.iter().map(|p| p.1).sum::<f64>(), 4.0);
        let at = |r: f64| bars.iter().find(|p| (p.0 - r).abs() <= 0.05).map_or(0.0, |p| p.1);
        assert_eq!((at(0.5), at(-1.0)), (2.0, 1.0), "{bars:?}");
        assert!(c.png().is_ok() && c.svg().unwrap().contains("no error"));
    }
}
