//! The geometry of a 2-D convolution, and its column matrices (im2col, Chellapilla et al. 2006): an image's `K × P`
//! matrix (`K = C_in·k_h·k_w` rows, one per kernel tap and input channel; `P = H_out·W_out`
//! columns, one per output pixel), and its adjoint, which adds a column gradient back onto an
//! image gradient (col2im). For the common stride-1 "same" convolution each row is the image
//! plane shifted by the tap's offset: one contiguous copy or add per row, then the few values
//! that wrapped around a row's edge are zeroed, instead of one short copy per image row.

use std::mem::MaybeUninit;

use burn::tensor::ops::ConvOptions;

use super::simd::{vectorized, zeroed};

/// The shapes of one convolution, checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) batch: usize,
    pub(crate) c_in: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) c_out: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: [usize; 2],
    /// Padding before (top, left) and after (bottom, right).
    pub(crate) pad_begin: [usize; 2],
    pub(crate) pad_end: [usize; 2],
    /// One filter per channel (groups = `c_in` = `c_out`, weights `[C, 1, kh, kw]`), computed
    /// by `depthwise`; otherwise groups 1, computed by `conv`.
    pub(crate) depthwise: bool,
}

impl Geometry {
    /// The geometry of `x` `[N, C, H, W]` convolved with `w` `[C_out, C / groups, kh, kw]`,
    /// when these kernels cover it (f32 is checked by the caller): groups 1 or depthwise
    /// (groups = `C` = `C_out`), dilation 1, output not empty.
    pub(crate) fn covered(x: [usize; 4], w: [usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
        let [batch, c_in, h, wd] = x;
        let [c_out, wc, kh, kw] = w;
        let dense = options.groups == 1 && wc == c_in;
        let depthwise = !dense && options.groups == c_in && c_out == c_in && wc == 1;
        let plain = (dense || depthwise) && options.dilation == [1, 1];
        let g = Geometry {
            batch,
            c_in,
            h,
            w: wd,
            c_out,
            kh,
            kw,
            stride: options.stride,
            pad_begin: options.padding_begin(),
            pad_end: options.padding_end(),
            depthwise,
        };
        let fits = h + g.pad_begin[0] + g.pad_end[0] >= kh && wd + g.pad_begin[1] + g.pad_end[1] >= kw;
        (plain && fits && batch * c_in * h * wd * c_out * kh * kw > 0).then_some(g)
    }

    /// Output height and width.
    pub(crate) fn out_hw(&self) -> (usize, usize) {
        let oh = (self.h + self.pad_begin[0] + self.pad_end[0] - self.kh) / self.stride[0] + 1;
        let ow = (self.w + self.pad_begin[1] + self.pad_end[1] - self.kw) / self.stride[1] + 1;
        (oh, ow)
    }

    /// Rows of an image's column matrix: `C_in · kh · kw`.
    pub(super) fn col_rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of an image's column matrix: output pixels.
    pub(super) fn out_pixels(&self) -> usize {
        let (oh, ow) = self.out_hw();
        oh * ow
    }

    /// A stride-1 convolution whose output is as wide as its input ("same" padding): each row
    /// of its column matrix is the image plane shifted by the tap's offset.
    fn rows_are_shifts(&self) -> bool {
        self.stride == [1, 1] && self.out_hw().1 == self.w
    }

    /// A 1×1 stride-1 unpadded convolution: an image is its own column matrix.
    pub(super) fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad_begin == [0, 0] && self.pad_end == [0, 0]
    }

    pub(super) fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    pub(super) fn out_len(&self) -> usize {
        self.c_out * self.out_pixels()
    }

    /// Images per task: one group per thread.
    pub(super) fn group(&self) -> usize {
        self.batch.div_ceil(rayon::current_num_threads().max(1))
    }

    /// For output row `o` and kernel row `ki`, the input row it reads (None in the padding).
    fn in_row(&self, o: usize, ki: usize) -> Option<usize> {
        (o * self.stride[0] + ki).checked_sub(self.pad_begin[0]).filter(|&i| i < self.h)
    }

    /// For kernel column `kj`, the output columns `lo..hi` that read inside the image, and the
    /// input column of `lo`.
    fn col_span(&self, kj: usize) -> (usize, usize, usize) {
        let (_, ow) = self.out_hw();
        let s = self.stride[1];
        let pad = self.pad_begin[1];
        let lo = pad.saturating_sub(kj).div_ceil(s).min(ow);
        let hi = ((self.w + pad).saturating_sub(kj).div_ceil(s)).clamp(lo, ow);
        (lo, hi, (lo * s + kj).saturating_sub(pad))
    }
}

vectorized! {
    /// Writes the `K × P` column matrix of one image `x` (`C × H × W`) into `cols`.
    pub(crate) fn im2col(g: &Geometry, x: &[f32], cols: &mut [f32]) = im2col_loops;
}

vectorized! {
    /// Adds the `K × P` column gradient `cols` back onto one image's gradient `dx` (`C × H × W`).
    /// (`cols` is scratch: its values outside the image may be zeroed on the way.)
    pub(crate) fn col2im(g: &Geometry, cols: &mut [f32], dx: &mut [MaybeUninit<f32>]) = col2im_loops;
}

/// The loops of [`im2col`].
#[inline(always)]
fn im2col_loops(g: &Geometry, x: &[f32], cols: &mut [f32]) {
    let (oh, ow) = g.out_hw();
    let (p, s) = (oh * ow, g.stride[1]);
    for c in 0..g.c_in {
        let plane = &x[c * g.h * g.w..][..g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &mut cols[((c * g.kh + ki) * g.kw + kj) * p..][..p];
                if g.rows_are_shifts() {
                    shifted_plane(g, plane, ki, kj, row);
                    continue;
                }
                let (lo, hi, x0) = g.col_span(kj);
                for o in 0..oh {
                    let out = &mut row[o * ow..][..ow];
                    let Some(i) = g.in_row(o, ki) else {
                        out.fill(0.0);
                        continue;
                    };
                    let src = &plane[i * g.w..][..g.w];
                    out[..lo].fill(0.0);
                    out[hi..].fill(0.0);
                    if s == 1 {
                        out[lo..hi].copy_from_slice(&src[x0..x0 + hi - lo]);
                    } else {
                        for (j, v) in out[lo..hi].iter_mut().enumerate() {
                            *v = src[x0 + j * s];
                        }
                    }
                }
            }
        }
    }
}

/// One row of [`im2col`] for a stride-1 convolution whose output is as wide as its input
/// ("same" padding): the plane shifted by the tap's offset is one contiguous copy (instead of
/// one short copy per image row), then the columns that wrapped around a row edge are zeroed.
#[inline(always)]
fn shifted_plane(g: &Geometry, plane: &[f32], ki: usize, kj: usize, row: &mut [f32]) {
    let s = Shift::of(g, ki, kj, plane.len());
    row[..s.rows.start * g.w].fill(0.0);
    row[s.rows.end * g.w..].fill(0.0);
    let out = &mut row[s.rows.start * g.w..s.rows.end * g.w];
    out[..s.skip].fill(0.0);
    out[s.skip..s.skip + s.len].copy_from_slice(&plane[s.plane_start..s.plane_start + s.len]);
    out[s.skip + s.len..].fill(0.0);
    s.zero_wrapped(g, out);
}

/// [`col2im`]'s counterpart of [`shifted_plane`]: zeroes the row's wrapped columns, then adds
/// the row to the plane shifted by the tap's offset in one contiguous pass.
#[inline(always)]
fn shifted_add(g: &Geometry, row: &mut [f32], ki: usize, kj: usize, plane: &mut [f32]) {
    let s = Shift::of(g, ki, kj, plane.len());
    let span = &mut row[s.rows.start * g.w..s.rows.end * g.w];
    s.zero_wrapped(g, span);
    let dst = &mut plane[s.plane_start..s.plane_start + s.len];
    dst.iter_mut().zip(&span[s.skip..s.skip + s.len]).for_each(|(d, v)| *d += v);
}

/// For tap `(ki, kj)` of a stride-1 convolution as wide as its input: the output rows that
/// read inside the image, and the flat correspondence `out[skip + t] ↔ plane[plane_start + t]`
/// for `t < len` over those rows (`out` counted from the first of them). Every valid output
/// column is inside it; what lies outside it, or in a column that wrapped around a row's edge,
/// reads the padding.
struct Shift {
    kj: usize,
    rows: std::ops::Range<usize>,
    skip: usize,
    plane_start: usize,
    len: usize,
}

impl Shift {
    #[inline(always)]
    fn of(g: &Geometry, ki: usize, kj: usize, plane_len: usize) -> Shift {
        let (oh, _) = g.out_hw();
        // Output rows whose input row `o + ki − pad_top` is inside the image.
        let lo = g.pad_begin[0].saturating_sub(ki).min(oh);
        let hi = (g.h + g.pad_begin[0]).saturating_sub(ki).clamp(lo, oh);
        // out[o·W + q] ↔ plane[(o + ki − pad_top)·W + q + kj − pad_left], clipped to the plane.
        let first_row = (lo + ki).saturating_sub(g.pad_begin[0]);
        let first = (first_row * g.w) as isize + kj as isize - g.pad_begin[1] as isize;
        let (skip, start) = if first < 0 { ((-first) as usize, 0) } else { (0, first as usize) };
        let span = (hi - lo) * g.w;
        let (skip, plane_start) = (skip.min(span), start.min(plane_len));
        let len = (span - skip).min(plane_len - plane_start);
        Shift { kj, rows: lo..hi, skip, plane_start, len }
    }

    /// Zeroes the columns of each row of `span` that wrapped around the image's edge.
    #[inline(always)]
    fn zero_wrapped(&self, g: &Geometry, span: &mut [f32]) {
        let (lo, hi, _) = g.col_span(self.kj);
        for r in span.chunks_exact_mut(g.w) {
            r[..lo].fill(0.0);
            r[hi..].fill(0.0);
        }
    }
}

/// The loops of [`col2im`].
#[inline(always)]
fn col2im_loops(g: &Geometry, cols: &mut [f32], dx: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = g.out_hw();
    let (p, s) = (oh * ow, g.stride[1]);
    let dx = zeroed(dx);
    for c in 0..g.c_in {
        let plane = &mut dx[c * g.h * g.w..][..g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &mut cols[((c * g.kh + ki) * g.kw + kj) * p..][..p];
                if g.rows_are_shifts() {
                    shifted_add(g, row, ki, kj, plane);
                    continue;
                }
                let (lo, hi, x0) = g.col_span(kj);
                for o in 0..oh {
                    let Some(i) = g.in_row(o, ki) else { continue };
                    let dst = &mut plane[i * g.w..][..g.w];
                    let src = &row[o * ow + lo..o * ow + hi];
                    if s == 1 {
                        dst[x0..x0 + src.len()].iter_mut().zip(src).for_each(|(d, v)| *d += v);
                    } else {
                        for (j, v) in src.iter().enumerate() {
                            dst[x0 + j * s] += v;
                        }
                    }
                }
            }
        }
    }
}
