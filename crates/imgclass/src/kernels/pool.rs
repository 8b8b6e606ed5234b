//! 2×2 max pooling with stride 2 on the CPU (NCHW, f32, no padding, odd edges dropped as
//! Burn's floor mode does): the forward keeps no indices, the backward finds each window's
//! maximum again in the input (the first one in row-major order, as flex does for ties, which
//! are common after a ReLU) and sends the gradient there.

use rayon::prelude::*;

/// Planes handled per parallel task (an `H × W` plane is small: batch several).
const PLANES_PER_TASK: usize = 16;

/// The shape of a pooled input: `planes = N·C` planes of `h × w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pool2 {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
}

impl Pool2 {
    /// The pooling of a `[N, C, H, W]` input, when its output is not empty.
    pub fn of([n, c, h, w]: [usize; 4]) -> Option<Pool2> {
        (n * c > 0 && h >= 2 && w >= 2).then_some(Pool2 { planes: n * c, h, w })
    }

    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        (self.h / 2, self.w / 2)
    }
}

/// Position (0..4, row-major in the window) of the first maximum of `[a, b, c, d]`.
fn argmax4(v: [f32; 4]) -> usize {
    let mut best = 0;
    for i in 1..4 {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

/// The window of output `(oy, ox)` in plane `x` of width `w`.
fn window(x: &[f32], w: usize, oy: usize, ox: usize) -> [f32; 4] {
    let (r0, r1) = (2 * oy * w + 2 * ox, (2 * oy + 1) * w + 2 * ox);
    [x[r0], x[r0 + 1], x[r1], x[r1 + 1]]
}

/// Forward: `[N, C, H, W]` → `[N, C, H/2, W/2]`.
pub(crate) fn forward(p: &Pool2, x: &[f32]) -> Vec<f32> {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    let mut out = vec![0.0f32; p.planes * plane_out];
    out.par_chunks_mut(PLANES_PER_TASK * plane_out).enumerate().for_each(|(t, outs)| {
        for (i, out) in outs.chunks_mut(plane_out).enumerate() {
            let x = &x[(t * PLANES_PER_TASK + i) * plane_in..][..plane_in];
            for oy in 0..oh {
                for (ox, o) in out[oy * ow..][..ow].iter_mut().enumerate() {
                    let v = window(x, p.w, oy, ox);
                    *o = v[argmax4(v)];
                }
            }
        }
    });
    out
}

/// Input gradient: each output's gradient `dy` goes to its window's first maximum in `x`.
pub(crate) fn backward(p: &Pool2, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (oh, ow) = p.out_hw();
    let (plane_in, plane_out) = (p.h * p.w, oh * ow);
    let mut dx = vec![0.0f32; p.planes * plane_in];
    dx.par_chunks_mut(PLANES_PER_TASK * plane_in).enumerate().for_each(|(t, dxs)| {
        for (i, dx) in dxs.chunks_mut(plane_in).enumerate() {
            let plane = t * PLANES_PER_TASK + i;
            let (x, dy) = (&x[plane * plane_in..][..plane_in], &dy[plane * plane_out..][..plane_out]);
            for oy in 0..oh {
                for ox in 0..ow {
                    let k = argmax4(window(x, p.w, oy, ox));
                    dx[(2 * oy + k / 2) * p.w + 2 * ox + k % 2] = dy[oy * ow + ox];
                }
            }
        }
    });
    dx
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
