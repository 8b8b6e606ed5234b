//! Learning-rate schedules: one-cycle (Smith & Topin 2018, "Super-Convergence"), as fastai's
//! `fit_one_cycle` runs it, and a constant rate.
//!
//! One-cycle warms up from `lr_max / div` to `lr_max` over the first `pct_start` of the steps
//! with a cosine, then anneals with a cosine to `lr_max / final_div`.
//! Reference: `fastai/callback/schedule.py` (`combined_cos`, `fit_one_cycle`: div = 25,
//! div_final = 1e5, pct_start = 0.25).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Schedule {
    /// fastai's one-cycle policy.
    OneCycle {
        /// Fraction of steps spent warming up.
        pct_start: f64,
        /// `lr_max / start lr`.
        div: f64,
        /// `lr_max / final lr`.
        final_div: f64,
    },
    /// The same rate throughout.
    Constant,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::OneCycle { pct_start: 0.25, div: 25.0, final_div: 1e5 }
    }
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

impl Schedule {
    /// Checks that a one-cycle schedule warms up over a fraction of the steps and its
    /// divisors are at least 1.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Schedule::OneCycle { pct_start, div, final_div } = *self
            && !((0.0..1.0).contains(&pct_start) && div >= 1.0 && final_div >= 1.0)
        {
            return Err(Error::config(
                "optimizer.schedule",
                "one-cycle needs pct_start in [0, 1) and div, final_div ≥ 1",
            ));
        }
        Ok(())
    }

    /// The learning rate at `step` of `total` steps, for a peak rate `lr_max`.
    pub fn lr(&self, lr_max: f64, step: usize, total: usize) -> f64 {
        match *self {
            Schedule::Constant => lr_max,
            Schedule::OneCycle { pct_start, div, final_div } => {
                let pct = if total <= 1 { 0.0 } else { step as f64 / (total - 1) as f64 };
                let start = lr_max / div;
                if pct < pct_start {
                    cos_anneal(start, lr_max, pct / pct_start)
                } else {
                    cos_anneal(lr_max, lr_max / final_div, (pct - pct_start) / (1.0 - pct_start))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_starts_low_peaks_at_pct_start_and_ends_near_zero() {
        let s = Schedule::default();
        let total = 101;
        assert!((s.lr(1.0, 0, total) - 1.0 / 25.0).abs() < 1e-12);
        assert!((s.lr(1.0, 25, total) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 100, total) - 1.0 / 1e5).abs() < 1e-12);
        let lrs: Vec<f64> = (0..total).map(|i| s.lr(1.0, i, total)).collect();
        assert!(lrs[..25].windows(2).all(|w| w[0] < w[1]) && lrs[25..].windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn a_constant_schedule_does_not_move() {
        assert_eq!(Schedule::Constant.lr(0.1, 50, 100), 0.1);
    }
}
