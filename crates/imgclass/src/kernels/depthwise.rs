//! Depthwise 2-D convolution on the CPU in NCHW, f32 — one `k_h × k_w` filter per channel
//! (groups = input channels = output channels): the spatial layer of MobileNet's and
//! EfficientNet's blocks. Forward, input gradient and weight gradient, computed directly: with
//! `K = k_h·k_w` (9 or 25) products per output a column matrix and a matrix product cost more
//! than they save.
//!
//! Each plane (one image's channel) is first copied into a zero-padded buffer whose columns
//! are split by phase (column mod stride), so that for every tap the input values an output
//! row reads are contiguous: the inner loops run along an output row with unit stride, for
//! stride 1 and 2 alike, and are vectorized for the CPU's widest vectors. The input gradient
//! is accumulated in such a buffer and copied back; the weight gradient sums per tap and
//! output column first, then over the columns, in one fixed order. Planes are split into one
//! run per thread; each run reuses one buffer.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::act::{Post, shift_act};
use super::cols::Geometry;
use super::simd::{assume_written, vectorized, written};

/// Outputs computed per step of the forward and input-gradient loops, kept in registers
/// across the taps (4 AVX-512 vectors).
const CHUNK: usize = 64;
/// Lanes of the weight gradient's per-tap sums (one AVX-512 vector).
const LANES: usize = 16;

/// The layout of a plane's zero-padded buffer, split into `stride_h × stride_w` phases (padded
/// row mod stride, padded column mod stride), each `rows × width`. For tap `(ki, kj)`, output
/// `(o, q)` reads the phase of `(ki, kj)` at `(o + ki / stride_h) · width + q + kj / stride_w`:
/// over a whole plane, each tap reads one contiguous run, the output laid out `width` apart
/// (`width ≥ W_out`; the columns past `W_out` are computed and dropped).
#[derive(Clone, Copy)]
struct Phases {
    stride: [usize; 2],
    rows: usize,
    width: usize,
}

impl Phases {
    fn of(g: &Geometry) -> Phases {
        let padded = [g.h + g.pad_begin[0] + g.pad_end[0], g.w + g.pad_begin[1] + g.pad_end[1]];
        Phases { stride: g.stride, rows: padded[0].div_ceil(g.stride[0]), width: padded[1].div_ceil(g.stride[1]) }
    }

    /// Buffer length, with room past the end for the last chunk's reads.
    fn len(&self) -> usize {
        self.stride[0] * self.stride[1] * self.rows * self.width + self.width + CHUNK
    }

    /// Where phase `(pr, pc)` begins.
    #[inline(always)]
    fn phase(&self, pr: usize, pc: usize) -> usize {
        (pr * self.stride[1] + pc) * self.rows * self.width
    }

    /// Where tap `(ki, kj)` reads for output `(0, 0)`.
    fn tap(&self, ki: usize, kj: usize) -> usize {
        let [sr, sc] = self.stride;
        self.phase(ki % sr, kj % sc) + self.lag(ki, kj)
    }

    /// The offset of tap `(ki, kj)` within its phase.
    fn lag(&self, ki: usize, kj: usize) -> usize {
        (ki / self.stride[0]) * self.width + kj / self.stride[1]
    }

    /// Outputs per plane as laid out here (`H_out` rows `width` apart), rounded up to vectors.
    fn span(&self, g: &Geometry) -> usize {
        (g.out_hw().0 * self.width).next_multiple_of(LANES)
    }

    /// For each image row `i`, the run of `plane`'s values in `buf` of each column phase: calls
    /// `f(row i, first image column, buffer offset)` for the columns `first, first + stride…`.
    #[inline(always)]
    fn rows(&self, g: &Geometry, mut f: impl FnMut(usize, usize, usize)) {
        let [sr, sc] = self.stride;
        for i in 0..g.h {
            let r = i + g.pad_begin[0];
            for pc in 0..sc {
                // The first padded column of this phase inside the image, and its image column.
                let col = g.pad_begin[1] + (pc + sc - g.pad_begin[1] % sc) % sc;
                f(i, col - g.pad_begin[1], self.phase(r % sr, pc) + (r / sr) * self.width + col / sc);
            }
        }
    }
}

/// Copies `plane` (`H × W`) into the interior of the phase-split buffer `buf`; its padding is
/// left as it is (zero, written once per run).
#[inline(always)]
fn fill(g: &Geometry, ph: &Phases, plane: &[f32], buf: &mut [f32]) {
    let sc = ph.stride[1];
    ph.rows(g, |i, j0, at| {
        let src = &plane[i * g.w..][..g.w];
        if j0 < g.w {
            let n = (g.w - j0).div_ceil(sc);
            buf[at..at + n].iter_mut().zip(src[j0..].iter().step_by(sc)).for_each(|(d, v)| *d = *v);
        }
    });
}

/// Planes per parallel run: one run per thread.
fn run_len(planes: usize) -> usize {
    planes.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// `dst[m] = Σ_t w[t] · src[lag[t] + m]` for `m < dst.len()` (a multiple of [`LANES`]), each
/// chunk's sums kept in registers across the taps, added in the taps' order.
#[inline(always)]
fn correlate(src: &[f32], taps: &[(f32, usize)], dst: &mut [f32]) {
    let full = dst.len() / CHUNK * CHUNK;
    let (head, tail) = dst.split_at_mut(full);
    for (c, out) in head.chunks_exact_mut(CHUNK).enumerate() {
        correlate_chunk::<CHUNK>(src, taps, c * CHUNK, out);
    }
    for (c, out) in tail.chunks_exact_mut(LANES).enumerate() {
        correlate_chunk::<LANES>(src, taps, full + c * LANES, out);
    }
}

#[inline(always)]
fn correlate_chunk<const N: usize>(src: &[f32], taps: &[(f32, usize)], at: usize, out: &mut [f32]) {
    let mut acc = [0.0f32; N];
    for &(wv, lag) in taps {
        let x = &src[lag + at..][..N];
        for l in 0..N {
            acc[l] += wv * x[l];
        }
    }
    out.copy_from_slice(&acc);
}

vectorized! {
    /// The outputs of a run of consecutive planes, the first being plane `first` (`n·C + c`).
    fn forward_run(g: &Geometry, x: &[f32], w: &[f32], first: usize, out: &mut [MaybeUninit<f32>]) = forward_loops;
}

#[inline(always)]
fn forward_loops(g: &Geometry, x: &[f32], w: &[f32], first: usize, out: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = g.out_hw();
    let ph = Phases::of(g);
    let (mut buf, mut wide) = (vec![0.0f32; ph.len()], vec![0.0f32; ph.span(g)]);
    let taps = g.kh * g.kw;
    let lags: Vec<usize> = (0..taps).map(|k| ph.tap(k / g.kw, k % g.kw)).collect();
    let mut tap = Vec::with_capacity(taps);
    for (t, out) in out.chunks_exact_mut(oh * ow).enumerate() {
        let plane = first + t;
        fill(g, &ph, &x[plane * g.h * g.w..][..g.h * g.w], &mut buf);
        tap.clear();
        tap.extend(w[(plane % g.c_in) * taps..][..taps].iter().copied().zip(lags.iter().copied()));
        correlate(&buf, &tap, &mut wide);
        for (dst, src) in out.chunks_exact_mut(ow).zip(wide.chunks(ph.width)) {
            dst.iter_mut().zip(src).for_each(|(d, v)| {
                d.write(*v);
            });
        }
    }
}

/// Forward: `x` `[N, C, H, W]`, `w` `[C, 1, kh, kw]` → `[N, C, H_out, W_out]`, then `post`.
pub(crate) fn forward(g: &Geometry, x: &[f32], w: &[f32], post: Post) -> Vec<f32> {
    let planes = g.batch * g.c_in;
    let run = run_len(planes);
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(run * g.out_pixels()).enumerate().for_each(|(t, out)| {
            forward_run(g, x, w, t * run, out);
            if let Some((shift, act)) = post {
                // SAFETY: `forward_run` wrote every value of its planes.
                let out = unsafe { assume_written(out) };
                for (i, plane) in out.chunks_exact_mut(g.out_pixels()).enumerate() {
                    shift_act(plane, shift[(t * run + i) % g.c_in], act);
                }
            }
        });
    };
    // SAFETY: the runs cover the buffer, and each output row is copied whole from `wide`.
    unsafe { written(planes * g.out_pixels(), write) }
}

/// The output gradient of one plane laid out as [`Phases`] lays out outputs, after `front`
/// zeros (so that a tap's lag can be subtracted from any index), and zeros past `W_out` and
/// after the last row: `grad[front + o·width + q] = dy[o][q]`.
struct WideGrad {
    front: usize,
    grad: Vec<f32>,
}

impl WideGrad {
    fn new(g: &Geometry, ph: &Phases) -> WideGrad {
        let front = ph.lag(g.kh - 1, g.kw - 1);
        WideGrad { front, grad: vec![0.0; front + ph.rows * ph.width + ph.span(g) + CHUNK] }
    }

    #[inline(always)]
    fn set(&mut self, ph: &Phases, ow: usize, dy: &[f32]) {
        for (o, row) in dy.chunks_exact(ow).enumerate() {
            self.grad[self.front + o * ph.width..][..ow].copy_from_slice(row);
        }
    }
}

vectorized! {
    /// The input gradients of a run of consecutive planes, the first being plane `first`.
    fn backward_x_run(g: &Geometry, w: &[f32], dy: &[f32], first: usize, dx: &mut [MaybeUninit<f32>]) = backward_x_loops;
}

#[inline(always)]
fn backward_x_loops(g: &Geometry, w: &[f32], dy: &[f32], first: usize, dx: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = g.out_hw();
    let ph = Phases::of(g);
    let [sr, sc] = ph.stride;
    let (mut buf, mut wide) = (vec![0.0f32; ph.len()], WideGrad::new(g, &ph));
    let phase_len = (ph.rows * ph.width).next_multiple_of(LANES);
    let taps = g.kh * g.kw;
    let mut tap = Vec::with_capacity(taps);
    for (t, dx) in dx.chunks_exact_mut(g.h * g.w).enumerate() {
        let plane = first + t;
        wide.set(&ph, ow, &dy[plane * oh * ow..][..oh * ow]);
        let w = &w[(plane % g.c_in) * taps..][..taps];
        // Each phase of the padded input's gradient gathers from the taps of that phase:
        // grad[m] = Σ w · dy_wide[m − lag].
        for (pr, pc) in (0..sr).flat_map(|pr| (0..sc).map(move |pc| (pr, pc))) {
            tap.clear();
            for ki in (pr..g.kh).step_by(sr) {
                for kj in (pc..g.kw).step_by(sc) {
                    tap.push((w[ki * g.kw + kj], wide.front - ph.lag(ki, kj)));
                }
            }
            // Phases are written in order: what the rounding spills into the next one is
            // overwritten by it (the last one's spills into the buffer's spare room).
            let at = ph.phase(pr, pc);
            correlate(&wide.grad, &tap, &mut buf[at..at + phase_len]);
        }
        // The padding's gradients are dropped; the image's are copied out (`fill`'s inverse).
        ph.rows(g, |i, j0, at| {
            let dst = &mut dx[i * g.w..][..g.w];
            if j0 < g.w {
                let n = (g.w - j0).div_ceil(sc);
                dst[j0..].iter_mut().step_by(sc).zip(&buf[at..at + n]).for_each(|(d, v)| {
                    d.write(*v);
                });
            }
        });
    }
}

/// Input gradient: `dy` `[N, C, H_out, W_out]` → `[N, C, H, W]`.
pub(crate) fn backward_x(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let planes = g.batch * g.c_in;
    let run = run_len(planes);
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(run * g.h * g.w).enumerate().for_each(|(t, dx)| backward_x_run(g, w, dy, t * run, dx));
    };
    // SAFETY: the runs cover the buffer; every image column of every row belongs to exactly
    // one column phase, whose copy writes it.
    unsafe { written(planes * g.h * g.w, write) }
}

vectorized! {
    /// The weight gradients `[kh·kw]` per channel of the channels `first..first + dw.len() / K`.
    fn backward_w_run(g: &Geometry, x: &[f32], dy: &[f32], first: usize, dw: &mut [f32]) = backward_w_loops;
}

#[inline(always)]
fn backward_w_loops(g: &Geometry, x: &[f32], dy: &[f32], first: usize, dw: &mut [f32]) {
    let (oh, ow) = g.out_hw();
    let ph = Phases::of(g);
    let (mut buf, mut wide) = (vec![0.0f32; ph.len()], WideGrad::new(g, &ph));
    let taps = g.kh * g.kw;
    let lags: Vec<usize> = (0..taps).map(|k| ph.tap(k / g.kw, k % g.kw)).collect();
    let span = ph.span(g);
    // Per tap, lane-wise sums of the products, added across lanes at the end in a fixed order.
    let mut sums = vec![[0.0f32; LANES]; taps];
    for (t, dw) in dw.chunks_exact_mut(taps).enumerate() {
        let c = first + t;
        sums.iter_mut().for_each(|s| *s = [0.0; LANES]);
        for n in 0..g.batch {
            let plane = n * g.c_in + c;
            fill(g, &ph, &x[plane * g.h * g.w..][..g.h * g.w], &mut buf);
            wide.set(&ph, ow, &dy[plane * oh * ow..][..oh * ow]);
            let grad = &wide.grad[wide.front..][..span];
            for (j, d) in grad.chunks_exact(LANES).enumerate() {
                let d: &[f32; LANES] = d.try_into().expect("a chunk of LANES");
                for (s, &lag) in sums.iter_mut().zip(&lags) {
                    let x: &[f32; LANES] = buf[lag + j * LANES..][..LANES].try_into().expect("LANES values");
                    *s = std::array::from_fn(|l| s[l] + d[l] * x[l]);
                }
            }
        }
        for (d, s) in dw.iter_mut().zip(&sums) {
            *d = s.iter().sum();
        }
    }
}

/// Weight gradient: `Σ_n Σ_pixels dy · x` per channel and tap → `[C, 1, kh, kw]`.
pub(crate) fn backward_w(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let taps = g.kh * g.kw;
    let run = run_len(g.c_in);
    let mut dw = vec![0.0f32; g.c_in * taps];
    dw.par_chunks_mut(run * taps).enumerate().for_each(|(t, dw)| backward_w_run(g, x, dy, t * run, dw));
    dw
}

#[cfg(test)]
mod tests {
    use burn::tensor::ops::ConvOptions;

    use super::*;

    /// The definition: each output is the sum of its window's products with its channel's filter.
    fn naive(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let (oh, ow) = g.out_hw();
        let mut out = vec![0.0; g.batch * g.c_in * oh * ow];
        for (plane, out) in out.chunks_exact_mut(oh * ow).enumerate() {
            let c = plane % g.c_in;
            for (idx, y) in out.iter_mut().enumerate() {
                let (o, q) = (idx / ow, idx % ow);
                for ki in 0..g.kh {
                    for kj in 0..g.kw {
                        let i = (o * g.stride[0] + ki).checked_sub(g.pad_begin[0]).filter(|i| *i < g.h);
                        let j = (q * g.stride[1] + kj).checked_sub(g.pad_begin[1]).filter(|j| *j < g.w);
                        if let (Some(i), Some(j)) = (i, j) {
                            *y += x[(plane * g.h + i) * g.w + j] * w[(c * g.kh + ki) * g.kw + kj];
                        }
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32).map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn the_forward_pass_equals_the_definition_at_stride_one_and_two_with_uneven_padding() {
        let cases = [
            ([2, 3, 7, 5], 3, 1, [(1, 1), (1, 1)]),
            ([1, 4, 9, 8], 3, 2, [(0, 1), (0, 1)]),
            ([3, 2, 6, 6], 5, 2, [(1, 2), (2, 1)]),
            ([1, 5, 11, 4], 5, 1, [(2, 2), (2, 2)]),
            ([2, 3, 5, 9], 3, 3, [(0, 0), (1, 0)]),
        ];
        for (x, k, s, pad) in cases {
            let options = ConvOptions::new_with_padding([s, s], pad, [1, 1], x[1]);
            let g = Geometry::covered(x, [x[1], 1, k, k], &options).expect("depthwise is covered");
            let (xs, ws) = (values(x.iter().product(), 1), values(x[1] * k * k, 2));
            let (ours, want) = (forward(&g, &xs, &ws, None), naive(&g, &xs, &ws));
            let diff = ours.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-5, "{x:?} k {k} stride {s} {pad:?}: diff {diff}");
        }
    }
}
