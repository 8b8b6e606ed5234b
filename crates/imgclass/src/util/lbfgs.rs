//! L-BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., algorithm 7.4 and 7.5): the
//! minimiser of a smooth function from its value and gradient, keeping the last few steps to
//! approximate the inverse Hessian. A backtracking (Armijo) line search keeps it simple; the
//! objectives it serves here (regularised logistic regressions) are convex.

/// When [`minimize`] stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    /// Most iterations.
    pub(crate) iterations: usize,
    /// Stop once the largest gradient component is below this.
    pub(crate) gradient: f64,
    /// Stop once an iteration lowers the value by less than this times `max(1, |f|)`.
    pub(crate) relative_decrease: f64,
}

impl Default for Stop {
    fn default() -> Self {
        Self { iterations: 500, gradient: 1e-5, relative_decrease: 1e-10 }
    }
}

/// The minimum found: the point and the iterations taken.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub(crate) x: Vec<f64>,
    pub(crate) iterations: usize,
}

/// Past steps kept for the inverse-Hessian approximation.
const MEMORY: usize = 10;

/// Minimises `f` (returning the value and the gradient at a point) from `x0`.
pub(crate) fn minimize(mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>), x0: Vec<f64>, stop: Stop) -> Minimum {
    let (mut x, (mut fx, mut g)) = (x0.clone(), f(&x0));
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let mut iterations = 0;
    while iterations < stop.iterations && max_abs(&g) > stop.gradient {
        iterations += 1;
        let mut d = direction(&g, &history);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (a poor curvature estimate): restart from the gradient.
            history.clear();
            d = g.iter().map(|v| -v).collect();
            slope = -dot(&g, &g);
        }
        // The first step has no curvature estimate: keep its length at most 1.
        let mut t = if history.is_empty() { 1f64.min(1.0 / max_abs(&g)) } else { 1.0 };
        let mut accepted = None;
        for _ in 0..40 {
            let next: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let (fn_, gn) = f(&next);
            if fn_.is_finite() && fn_ <= fx + 1e-4 * t * slope {
                accepted = Some((next, fn_, gn));
                break;
            }
            t *= 0.5;
        }
        let Some((next, fn_, gn)) = accepted else { break };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        let decrease = fx - fn_;
        (x, fx, g) = (next, fn_, gn);
        if decrease <= stop.relative_decrease * fx.abs().max(1.0) {
            break;
        }
    }
    Minimum { x, iterations }
}

/// `-H g` by the two-loop recursion over `history` (`(s, y, 1 / sᵀy)`, oldest first).
fn direction(g: &[f64], history: &[(Vec<f64>, Vec<f64>, f64)]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
        alphas.push(a);
    }
    if let Some((s, y, _)) = history.last() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|q| *q *= gamma);
    }
    for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
    }
    q.iter_mut().for_each(|q| *q = -*q);
    q
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's valley: minimum 0 at (1, 1), reached through a long curved valley.
    fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (x[0], x[1]);
        let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let grad = vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
        (value, grad)
    }

    #[test]
    fn it_finds_the_minimum_of_rosenbrocks_valley() {
        let m = minimize(rosenbrock, vec![-1.2, 1.0], Stop { relative_decrease: 0.0, ..Stop::default() });
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{m:?}");
        assert!(m.iterations < 100, "{m:?}");
    }

    #[test]
    fn an_ill_conditioned_quadratic_converges_in_few_iterations() {
        let scales = [1.0, 10.0, 100.0, 1000.0];
        let f = |x: &[f64]| {
            let value = x.iter().zip(&scales).map(|(x, s)| 0.5 * s * (x - 1.0).powi(2)).sum();
            (value, x.iter().zip(&scales).map(|(x, s)| s * (x - 1.0)).collect())
        };
        let m = minimize(f, vec![0.0; 4], Stop::default());
        assert!(m.x.iter().all(|x| (x - 1.0).abs() < 1e-6), "{m:?}");
        assert!(m.iterations < 30, "{m:?}");
    }
}
