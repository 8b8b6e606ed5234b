//! Batch normalization in training mode on the CPU (NCHW, f32), in three passes over the
//! activation forward (mean, variance, normalize) and two backward (two sums, the input
//! gradient), where Burn's composed op transposes the activation to channels-first several
//! times. Same formulas as Burn's `batch_norm_train` and its backward: biased variance,
//! `y = (x − mean) / √(var + ε) · γ + β`.
//!
//! Sums run per channel over `N` contiguous `H·W` planes, each plane summed in f32 and the
//! planes accumulated in f64, so a channel of a large batch loses no precision.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::act::{Act, ActFn, NoAct, Relu6Fn, ReluFn, per_act};
use super::simd::{vectorized, written};

/// The shape of a batch-norm input, as `[N, C, H·W]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planes {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) hw: usize,
}

impl Planes {
    /// The planes of a `[N, C, ...]` shape, when it has some elements.
    pub(crate) fn of(shape: &[usize]) -> Option<Planes> {
        let (n, c) = (*shape.first()?, *shape.get(1)?);
        let hw = shape[2..].iter().product();
        (n * c * hw > 0).then_some(Planes { n, c, hw })
    }

    /// Elements per channel: `N·H·W`.
    fn count(&self) -> f64 {
        (self.n * self.hw) as f64
    }

    /// `Σ f(plane)` over the planes of channel `c`, each plane given as its index range.
    #[inline(always)]
    fn channel_sum(&self, c: usize, f: impl Fn(std::ops::Range<usize>) -> f32) -> f64 {
        (0..self.n)
            .map(|n| {
                let at = (n * self.c + c) * self.hw;
                f64::from(f(at..at + self.hw))
            })
            .sum()
    }
}

/// `Σ f(a[i], b[i])` in eight independent f32 lanes, so the compiler vectorizes it.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(a, b)| f(*a, *b)).sum();
    for (a, b) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += f(a[l], b[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `(Σ g(a[i], b[i]), Σ g(a[i], b[i])·h(b[i]))` in eight lanes each: two sums in one pass.
#[inline(always)]
fn lane_sum2(a: &[f32], b: &[f32], g: impl Fn(f32, f32) -> f32, h: impl Fn(f32) -> f32) -> [f32; 2] {
    let (mut s, mut t) = ([0.0f32; 8], [0.0f32; 8]);
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut tail = [0.0f32; 2];
    for (a, b) in ac.remainder().iter().zip(bc.remainder()) {
        let v = g(*a, *b);
        tail = [tail[0] + v, tail[1] + v * h(*b)];
    }
    for (a, b) in ac.zip(bc) {
        // One lane-wise loop per sum: a loop carrying both sums would be vectorized across the
        // pair instead of across the lanes.
        let v: [f32; 8] = std::array::from_fn(|l| g(a[l], b[l]));
        let w: [f32; 8] = std::array::from_fn(|l| v[l] * h(b[l]));
        for l in 0..8 {
            s[l] += v[l];
        }
        for l in 0..8 {
            t[l] += w[l];
        }
    }
    [s.iter().sum::<f32>() + tail[0], t.iter().sum::<f32>() + tail[1]]
}

/// `y[i] = x[i] · scale[c] + shift[c]` for every element, `c` its channel; then `max(0, y)`
/// through `act`.
fn affine(p: &Planes, x: &[f32], scale: &[f32], shift: &[f32], act: Act) -> Vec<f32> {
    let write = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(p.hw).zip(x.par_chunks(p.hw)).enumerate().for_each(|(i, (y, x))| {
            let c = i % p.c;
            affine_plane(y, x, &Gate { scale: scale[c], shift: shift[c], act })
        })
    };
    // SAFETY: the planes cover `y`, and `affine_plane` writes every element of its plane.
    unsafe { written(x.len(), write) }
}

/// A channel's `x · scale + shift`, through `act`.
#[derive(Debug, Clone, Copy)]
struct Gate {
    scale: f32,
    shift: f32,
    act: Act,
}

impl Gate {
    /// The output for input `x`.
    #[inline(always)]
    fn out<A: ActFn>(&self, x: f32) -> f32 {
        A::out(x * self.scale + self.shift)
    }

    /// The output gradient `g` behind the activation: `g` where it lets the gradient through.
    #[inline(always)]
    fn pass<A: ActFn>(&self, g: f32, x: f32) -> f32 {
        // `if keep { g } else { 0.0 }` as a bit mask: as a branch, LLVM loads `g` lane by
        // lane under the mask instead of vectorizing.
        let mask = (-i32::from(A::keep(x * self.scale + self.shift))) as u32;
        f32::from_bits(g.to_bits() & mask)
    }
}

vectorized! {
    /// One plane of [`affine`].
    fn affine_plane(y: &mut [MaybeUninit<f32>], x: &[f32], gate: &Gate) = affine_loops;
}

#[inline(always)]
fn affine_loops(y: &mut [MaybeUninit<f32>], x: &[f32], gate: &Gate) {
    per_act!(gate.act, affine_with(y, x, gate))
}

#[inline(always)]
fn affine_with<A: ActFn>(y: &mut [MaybeUninit<f32>], x: &[f32], gate: &Gate) {
    assert_eq!(y.len(), x.len());
    y.iter_mut().zip(x).for_each(|(y, x)| {
        y.write(gate.out::<A>(*x));
    });
}

vectorized! {
    /// The batch mean and (biased) variance of channel `c`.
    fn channel_stats(p: &Planes, x: &[f32], c: usize) -> (f32, f32) = channel_stats_loops;
}

#[inline(always)]
fn channel_stats_loops(p: &Planes, x: &[f32], c: usize) -> (f32, f32) {
    let mean = p.channel_sum(c, |r| lane_sum(&x[r.clone()], &x[r], |a, _| a)) / p.count();
    let m = mean as f32;
    let var = p.channel_sum(c, |r| lane_sum(&x[r.clone()], &x[r], |v, _| (v - m) * (v - m))) / p.count();
    (m, var as f32)
}

/// What the backward needs of one channel.
#[derive(Debug, Clone, Copy)]
struct Channel {
    gate: Gate,
    mean: f32,
    inv_std: f32,
}

vectorized! {
    /// `[Σ dy, Σ dy · x̂]` over one plane, `dy` gated by the ReLU, `x̂ = (x − mean) · inv_std`.
    fn plane_sums(x: &[f32], dy: &[f32], ch: &Channel) -> [f32; 2] = plane_sums_loops;
}

#[inline(always)]
fn plane_sums_loops(x: &[f32], dy: &[f32], ch: &Channel) -> [f32; 2] {
    per_act!(ch.gate.act, plane_sums_with(x, dy, ch))
}

#[inline(always)]
fn plane_sums_with<A: ActFn>(x: &[f32], dy: &[f32], ch: &Channel) -> [f32; 2] {
    lane_sum2(dy, x, |g, x| ch.gate.pass::<A>(g, x), |x| (x - ch.mean) * ch.inv_std)
}

/// `(Σ dy, Σ dy · x̂)` of every channel: each plane summed in memory order (the planes of one
/// channel lie a whole sample apart, too far for the prefetcher), then each channel's planes
/// added in sample order in `f64`.
fn grad_sums(p: &Planes, x: &[f32], dy: &[f32], channel: impl Fn(usize) -> Channel + Sync) -> Vec<(f64, f64)> {
    let planes: Vec<[f32; 2]> = x
        .par_chunks(p.hw)
        .zip(dy.par_chunks(p.hw))
        .enumerate()
        .map(|(i, (x, dy))| plane_sums(x, dy, &channel(i % p.c)))
        .collect();
    (0..p.c)
        .map(|c| {
            planes[c..]
                .iter()
                .step_by(p.c)
                .fold((0.0f64, 0.0f64), |(b, g), [pb, pg]| (b + f64::from(*pb), g + f64::from(*pg)))
        })
        .collect()
}

/// The input gradient of one plane: `dx = k · (M·dy − Σdy − x̂·Σ(dy·x̂))`.
#[derive(Debug, Clone, Copy)]
struct InputGrad {
    ch: Channel,
    /// `γ · inv_std / M`.
    k: f32,
    /// `M`, the elements per channel.
    m: f32,
    dbeta: f32,
    dgamma: f32,
}

vectorized! {
    /// One plane of the input gradient.
    fn input_grad(dx: &mut [MaybeUninit<f32>], x: &[f32], dy: &[f32], d: &InputGrad) = input_grad_loops;
}

#[inline(always)]
fn input_grad_loops(dx: &mut [MaybeUninit<f32>], x: &[f32], dy: &[f32], d: &InputGrad) {
    per_act!(d.ch.gate.act, input_grad_with(dx, x, dy, d))
}

#[inline(always)]
fn input_grad_with<A: ActFn>(dx: &mut [MaybeUninit<f32>], x: &[f32], dy: &[f32], d: &InputGrad) {
    assert!(x.len() == dx.len() && dy.len() == dx.len());
    let ch = &d.ch;
    for ((dx, x), dy) in dx.iter_mut().zip(x).zip(dy) {
        dx.write(d.k * (d.m * ch.gate.pass::<A>(*dy, *x) - d.dbeta - (x - ch.mean) * ch.inv_std * d.dgamma));
    }
}

/// The scale and shift of each channel: `y = x · scale + shift`.
fn scale_shift(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f64) -> (Vec<f32>, Vec<f32>) {
    let scale: Vec<f32> = (0..gamma.len()).map(|c| gamma[c] / (f64::from(var[c]) + eps).sqrt() as f32).collect();
    let shift = (0..gamma.len()).map(|c| beta[c] - mean[c] * scale[c]).collect();
    (scale, shift)
}

/// The affine parameters of a batch norm, and the activation that follows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Affine<'a> {
    pub(crate) gamma: &'a [f32],
    pub(crate) beta: &'a [f32],
    pub(crate) eps: f64,
    pub(crate) act: Act,
}

/// Forward: the normalized output (through `a.act`), and the batch mean and
/// (biased) variance of each channel.
pub(crate) fn forward(p: &Planes, x: &[f32], a: Affine) -> [Vec<f32>; 3] {
    let stats: Vec<(f32, f32)> = (0..p.c).into_par_iter().map(|c| channel_stats(p, x, c)).collect();
    let (mean, var): (Vec<f32>, Vec<f32>) = stats.into_iter().unzip();
    [normalize(p, x, a, [&mean, &var]), mean, var]
}

/// `x` normalized with the given statistics (the batch's in training, the running ones in
/// inference), through `a.act`: one pass, the statistics folded into a scale and shift per
/// channel.
pub(crate) fn normalize(p: &Planes, x: &[f32], a: Affine, [mean, var]: [&[f32]; 2]) -> Vec<f32> {
    let (scale, shift) = scale_shift(a.gamma, a.beta, mean, var, a.eps);
    affine(p, x, &scale, &shift, a.act)
}

/// Backward: the gradients of `x`, `gamma` and `beta` from the output gradient `dy` and the
/// forward's batch statistics. With an activation, the gradient passes where the forward's
/// pre-activation (recomputed, bit for bit) was positive.
pub(crate) fn backward(p: &Planes, x: &[f32], a: Affine, [mean, var]: [&[f32]; 2], dy: &[f32]) -> [Vec<f32>; 3] {
    let inv_std: Vec<f32> = var.iter().map(|v| (1.0 / (f64::from(*v) + a.eps).sqrt()) as f32).collect();
    let (scale, shift) = scale_shift(a.gamma, a.beta, mean, var, a.eps);
    let channel = |c: usize| Channel {
        gate: Gate { scale: scale[c], shift: shift[c], act: a.act },
        mean: mean[c],
        inv_std: inv_std[c],
    };
    let (dbeta, dgamma): (Vec<f32>, Vec<f32>) =
        grad_sums(p, x, dy, channel).into_iter().map(|(b, g)| (b as f32, g as f32)).unzip();
    let m = p.count() as f32;
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(p.hw).enumerate().for_each(|(i, dx)| {
            let c = i % p.c;
            let d = InputGrad { ch: channel(c), k: a.gamma[c] * inv_std[c] / m, m, dbeta: dbeta[c], dgamma: dgamma[c] };
            input_grad(dx, &x[i * p.hw..][..p.hw], &dy[i * p.hw..][..p.hw], &d);
        })
    };
    // SAFETY: the planes cover `dx`, and `input_grad` writes every element of its plane.
    let dx = unsafe { written(x.len(), write) };
    [dx, dgamma, dbeta]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_of_each_channel_has_mean_beta_and_standard_deviation_gamma() {
        let p = Planes { n: 3, c: 2, hw: 5 };
        let x: Vec<f32> = (0..30).map(|i| (i * i % 17) as f32 - 4.0).collect();
        let a = Affine { gamma: &[2.0, 0.5], beta: &[1.0, -3.0], eps: 0.0, act: Act::Identity };
        let [y, mean, var] = forward(&p, &x, a);
        for (c, (g, b)) in [(2.0f32, 1.0f32), (0.5, -3.0)].into_iter().enumerate() {
            let vals: Vec<f32> = (0..3).flat_map(|n| y[(n * 2 + c) * 5..][..5].to_vec()).collect();
            let m = vals.iter().sum::<f32>() / 15.0;
            let sd = (vals.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / 15.0).sqrt();
            assert!((m - b).abs() < 1e-5 && (sd - g).abs() < 1e-5, "channel {c}: mean {m} sd {sd}");
            assert!(var[c] > 0.0 && mean[c].is_finite());
        }
    }

    #[test]
    fn the_input_gradient_matches_finite_differences_with_and_without_an_activation() {
        for act in [Act::Identity, Act::Relu, Act::Relu6] {
            check_gradient(act);
        }
    }

    fn check_gradient(act: Act) {
        let p = Planes { n: 2, c: 2, hw: 3 };
        let x: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32) / 3.0).collect();
        let w: Vec<f32> = (0..12).map(|i| ((i * 5 % 7) as f32) - 3.0).collect();
        // For ReLU6, a scale that sends some outputs past 6.
        let (gamma, beta) = if act == Act::Relu6 { ([5.0, 3.0], [2.0, 1.0]) } else { ([1.5, 0.7], [0.2, -0.1]) };
        let a = Affine { gamma: &gamma, beta: &beta, eps: 1e-5, act };
        let loss = |x: &[f32]| -> f64 {
            let [y, ..] = forward(&p, x, a);
            y.iter().zip(&w).map(|(y, w)| f64::from(y * w)).sum()
        };
        let [_, mean, var] = forward(&p, &x, a);
        let [dx, ..] = backward(&p, &x, a, [&mean, &var], &w);
        for i in 0..12 {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let numeric = (loss(&up) - loss(&down)) / 2e-2;
            assert!((numeric - f64::from(dx[i])).abs() < 2e-2, "{act:?}, element {i}: {numeric} vs {}", dx[i]);
        }
    }
}
