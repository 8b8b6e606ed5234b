//! 2×2 max pooling with stride 2 on the CPU (NCHW, f32, no padding, odd edges dropped as
//! Burn's floor mode does): the forward keeps no indices, the backward finds each window's
//! maximum again in the input (the first one in row-major order, as flex does for ties, which
//! are common after a ReLU) and sends the gradient there.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::simd::{vectorized, written};

/// Planes handled per parallel task (an `H × W` plane is small: batch several).
const PLANES_PER_TASK: usize = 16;

/// The shape of a pooled input: `planes = N·C` planes of `h × w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pool2 {
    pub(crate) planes: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
}

impl Pool2 {
    /// The pooling of a `[N, C, H, W]` input, when its output is not empty.
    pub(crate) fn of([n, c, h, w]: [usize; 4]) -> Option<Pool2> {
        (n * c > 0 && h >= 2 && w >= 2).then_some(Pool2 { planes: n * c, h, w })
    }

    /// Output height and width.
    pub(crate) fn out_hw(&self) -> (usize, usize) {
        (self.h / 2, self.w / 2)
    }
}

/// Forward: `[N, C, H, W]` → `[N, C, H/2, W/2]`.
pub(crate) fn forward(p: &Pool2, x: &[f32]) -> Vec<f32> {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(PLANES_PER_TASK * plane_out)
            .enumerate()
            .for_each(|(t, outs)| forward_planes(p, &x[t * PLANES_PER_TASK * plane_in..], outs))
    };
    // SAFETY: the tasks cover the output, and `forward_planes` writes every element of its
    // planes (each plane's `oh` rows of `ow` outputs).
    unsafe { written(p.planes * plane_out, write) }
}

vectorized! {
    /// The forward of the planes of `outs`, from `x`'s planes starting at the first of them.
    fn forward_planes(p: &Pool2, x: &[f32], outs: &mut [MaybeUninit<f32>]) = forward_loops;
}

/// The loops of [`forward_planes`].
#[inline(always)]
fn forward_loops(p: &Pool2, x: &[f32], outs: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    for (i, out) in outs.chunks_mut(plane_out).enumerate() {
        let x = &x[i * plane_in..][..plane_in];
        assert_eq!(out.len(), oh * ow);
        for (oy, out) in out.chunks_exact_mut(ow).enumerate() {
            let (r0, r1) = (&x[2 * oy * p.w..][..2 * ow], &x[(2 * oy + 1) * p.w..][..2 * ow]);
            for ((o, a), b) in out.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                o.write(max2(max2(a[0], a[1]), max2(b[0], b[1])));
            }
        }
    }
}

/// The larger of two values, the first on a tie (branch-free).
#[inline(always)]
fn max2(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// Input gradient: each output's gradient `dy` goes to its window's first maximum in `x`.
pub(crate) fn backward(p: &Pool2, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    let mut dx = vec![0.0f32; p.planes * plane_in];
    dx.par_chunks_mut(PLANES_PER_TASK * plane_in).enumerate().for_each(|(t, dxs)| {
        let first = t * PLANES_PER_TASK;
        backward_planes(p, &x[first * plane_in..], &dy[first * plane_out..], dxs)
    });
    dx
}

vectorized! {
    /// The gradient of the planes of `dxs`, from `x`'s and `dy`'s planes starting at the first.
    fn backward_planes(p: &Pool2, x: &[f32], dy: &[f32], dxs: &mut [f32]) = backward_loops;
}

/// The loops of [`backward_planes`].
#[inline(always)]
fn backward_loops(p: &Pool2, x: &[f32], dy: &[f32], dxs: &mut [f32]) {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    // Which of its four inputs each window's maximum is, for one row of windows. Two simple
    // passes (find, then scatter) vectorize where one pass doing both stayed scalar.
    let mut first = vec![0u32; ow];
    for (plane, dx) in dxs.chunks_mut(plane_in).enumerate() {
        let (x, dy) = (&x[plane * plane_in..][..plane_in], &dy[plane * plane_out..][..plane_out]);
        for (oy, g) in dy.chunks_exact(ow).enumerate() {
            let (r0, r1) = (&x[2 * oy * p.w..][..2 * ow], &x[(2 * oy + 1) * p.w..][..2 * ow]);
            for ((f, a), b) in first.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                // The first maximum in row-major order: later ones must be strictly larger.
                let (mut best, mut at) = (a[0], 0);
                (best, at) = if a[1] > best { (a[1], 1) } else { (best, at) };
                (best, at) = if b[0] > best { (b[0], 2) } else { (best, at) };
                *f = if b[1] > best { 3 } else { at };
            }
            let (d0, d1) = dx[2 * oy * p.w..].split_at_mut(p.w);
            let rows = d0[..2 * ow].chunks_exact_mut(2).zip(d1[..2 * ow].chunks_exact_mut(2));
            for (((d0, d1), f), g) in rows.zip(&first).zip(g) {
                d0[0] = if *f == 0 { *g } else { 0.0 };
                d0[1] = if *f == 1 { *g } else { 0.0 };
                d1[0] = if *f == 2 { *g } else { 0.0 };
                d1[1] = if *f == 3 { *g } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_is_its_window_maximum_and_the_gradient_goes_to_the_first_maximum() {
        // One 3×5 plane (odd edges dropped): windows [1 5; 2 0], [5 5; 0 5] (a tie), ...
        let x = [1.0, 5.0, 5.0, 5.0, 9.0, 2.0, 0.0, 0.0, 5.0, 9.0, 7.0, 7.0, 7.0, 7.0, 7.0];
        let p = Pool2::of([1, 1, 3, 5]).expect("poolable");
        assert_eq!(forward(&p, &x), vec![5.0, 5.0]);
        let dx = backward(&p, &x, &[10.0, 20.0]);
        let mut want = vec![0.0; 15];
        (want[1], want[2]) = (10.0, 20.0);
        assert_eq!(dx, want);
    }
}
