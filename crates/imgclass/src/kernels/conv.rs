//! 2-D convolution on the CPU in NCHW, f32, groups 1, dilation 1: forward, input gradient and
//! weight gradient, each as one matrix product per image (im2col, Chellapilla et al. 2006) on
//! the `gemm` crate's kernels (AVX2/AVX-512 chosen at run time).
//!
//! Tensors stay in NCHW from layer to layer: an image's columns are `K × P` (`K = C_in·k_h·k_w`,
//! `P = H_out·W_out`), so `out = W · cols` lands in NCHW with no layout conversion. The batch is
//! cut into one group of images per thread; each group reuses one column buffer (and, for the
//! weight gradient, one accumulator), so a 2-core machine runs two large tasks, not hundreds.
//! A 1×1 stride-1 unpadded convolution uses the image itself as its columns.

use std::mem::MaybeUninit;

use burn::tensor::ops::ConvOptions;
use gemm::Parallelism;
use rayon::prelude::*;

use super::simd::{as_uninit, vectorized, written, zeroed};

/// The shapes of one convolution, checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    /// Padding before (top, left) and after (bottom, right).
    pub pad_begin: [usize; 2],
    pub pad_end: [usize; 2],
}

impl Geometry {
    /// The geometry of `x` `[N, C, H, W]` convolved with `w` `[C_out, C, kh, kw]`, when these
    /// kernels cover it (f32 is checked by the caller): groups 1, dilation 1, output not empty.
    pub fn covered(x: [usize; 4], w: [usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
        let [batch, c_in, h, wd] = x;
        let [c_out, wc, kh, kw] = w;
        let plain = options.groups == 1 && options.dilation == [1, 1] && wc == c_in;
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
        };
        let fits = h + g.pad_begin[0] + g.pad_end[0] >= kh && wd + g.pad_begin[1] + g.pad_end[1] >= kw;
        (plain && fits && batch * c_in * h * wd * c_out * kh * kw > 0).then_some(g)
    }

    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        let oh = (self.h + self.pad_begin[0] + self.pad_end[0] - self.kh) / self.stride[0] + 1;
        let ow = (self.w + self.pad_begin[1] + self.pad_end[1] - self.kw) / self.stride[1] + 1;
        (oh, ow)
    }

    /// Rows of an image's column matrix: `C_in · kh · kw`.
    fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of an image's column matrix: output pixels.
    fn p(&self) -> usize {
        let (oh, ow) = self.out_hw();
        oh * ow
    }

    /// A 1×1 stride-1 unpadded convolution: an image is its own column matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad_begin == [0, 0] && self.pad_end == [0, 0]
    }

    fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn out_len(&self) -> usize {
        self.c_out * self.p()
    }

    /// Images per task: one group per thread.
    fn group(&self) -> usize {
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

/// Where a matrix product goes: over storage whose values are not read (it may hold none
/// yet), or added to values already there.
enum Dst<'a> {
    Overwrite(&'a mut [MaybeUninit<f32>]),
    Accumulate(&'a mut [f32]),
}

/// `dst (m × n, row-major) = or += lhs (m × k) · rhs (k × n)`; `lhs` and `rhs` given with their
/// column and row strides in elements.
fn matmul([m, n, k]: [usize; 3], dst: Dst, lhs: (&[f32], isize, isize), rhs: (&[f32], isize, isize)) {
    let end = |(cs, rs): (isize, isize), rows: usize, cols: usize| {
        (rows.saturating_sub(1)) * rs as usize + (cols.saturating_sub(1)) * cs as usize + 1
    };
    let (ptr, len, accumulate) = match dst {
        Dst::Overwrite(d) => (d.as_mut_ptr().cast::<f32>(), d.len(), false),
        Dst::Accumulate(d) => (d.as_mut_ptr(), d.len(), true),
    };
    assert!(len >= end((1, n as isize), m, n), "matmul: destination too short");
    assert!(lhs.0.len() >= end((lhs.1, lhs.2), m, k), "matmul: left matrix too short");
    assert!(rhs.0.len() >= end((rhs.1, rhs.2), k, n), "matmul: right matrix too short");
    // SAFETY: the asserts above keep every index the product reads or writes inside the slices
    // (strides are non-negative); `dst` is borrowed mutably, so it aliases neither input; and
    // the destination is read only when accumulating, into values that are initialized.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            ptr,
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.1,
            lhs.2,
            rhs.0.as_ptr(),
            rhs.1,
            rhs.2,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

vectorized! {
    /// Writes the `K × P` column matrix of one image `x` (`C × H × W`) into `cols`.
    fn im2col(g: &Geometry, x: &[f32], cols: &mut [f32]) = im2col_loops;
}

vectorized! {
    /// Adds the `K × P` column gradient `cols` back onto one image's gradient `dx` (`C × H × W`).
    fn col2im(g: &Geometry, cols: &[f32], dx: &mut [MaybeUninit<f32>]) = col2im_loops;
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

/// The loops of [`col2im`].
#[inline(always)]
fn col2im_loops(g: &Geometry, cols: &[f32], dx: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = g.out_hw();
    let (p, s) = (oh * ow, g.stride[1]);
    let dx = zeroed(dx);
    for c in 0..g.c_in {
        let plane = &mut dx[c * g.h * g.w..][..g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &cols[((c * g.kh + ki) * g.kw + kj) * p..][..p];
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

/// Forward: `x` `[N, C_in, H, W]`, `w` `[C_out, C_in, kh, kw]` → `[N, C_out, H_out, W_out]`.
pub(crate) fn forward(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    let group = g.group();
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(group * g.out_len()).enumerate().for_each(|(t, outs)| {
            let mut cols = if g.pointwise() { Vec::new() } else { vec![0.0f32; k * p] };
            for (i, out) in outs.chunks_mut(g.out_len()).enumerate() {
                let image = &x[(t * group + i) * g.in_len()..][..g.in_len()];
                let cols = if g.pointwise() {
                    image
                } else {
                    im2col(g, image, &mut cols);
                    &cols
                };
                matmul([g.c_out, p, k], Dst::Overwrite(out), (w, 1, k as isize), (cols, 1, p as isize));
            }
        })
    };
    // SAFETY: the images' outputs cover the buffer, and each product writes all `C_out × P`
    // values of its image.
    unsafe { written(g.batch * g.out_len(), write) }
}

/// Input gradient: `dy` `[N, C_out, H_out, W_out]` → `[N, C_in, H, W]`.
pub(crate) fn backward_x(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    let group = g.group();
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(group * g.in_len()).enumerate().for_each(|(t, dxs)| {
            let mut cols = if g.pointwise() { Vec::new() } else { vec![0.0f32; k * p] };
            for (i, dx) in dxs.chunks_mut(g.in_len()).enumerate() {
                let dy = &dy[(t * group + i) * g.out_len()..][..g.out_len()];
                // Columns' gradient = Wᵀ (K × C_out) · dy (C_out × P).
                let lhs = (w, k as isize, 1);
                if g.pointwise() {
                    matmul([k, p, g.c_out], Dst::Overwrite(dx), lhs, (dy, 1, p as isize));
                } else {
                    matmul([k, p, g.c_out], Dst::Overwrite(as_uninit(&mut cols)), lhs, (dy, 1, p as isize));
                    col2im(g, &cols, dx);
                }
            }
        })
    };
    // SAFETY: the images' gradients cover the buffer; each is written whole by the product
    // (pointwise: `K = C_in` rows of `P = H·W`) or by `col2im`, which zeroes it first.
    unsafe { written(g.batch * g.in_len(), write) }
}

/// Weight gradient: `Σ_n dy[n] (C_out × P) · cols[n]ᵀ (P × K)` → `[C_out, C_in, kh, kw]`.
pub(crate) fn backward_w(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    let group = g.group();
    let partials: Vec<Vec<f32>> = (0..g.batch.div_ceil(group))
        .into_par_iter()
        .map(|t| {
            let mut dw = vec![0.0f32; g.c_out * k];
            let mut cols = if g.pointwise() { Vec::new() } else { vec![0.0f32; k * p] };
            for (i, n) in (t * group..((t + 1) * group).min(g.batch)).enumerate() {
                let image = &x[n * g.in_len()..][..g.in_len()];
                let cols = if g.pointwise() {
                    image
                } else {
                    im2col(g, image, &mut cols);
                    &cols
                };
                let dy = &dy[n * g.out_len()..][..g.out_len()];
                let dst = if i == 0 { Dst::Overwrite(as_uninit(&mut dw)) } else { Dst::Accumulate(&mut dw) };
                matmul([g.c_out, k, p], dst, (dy, 1, p as isize), (cols, p as isize, 1));
            }
            dw
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut dw = parts.next().unwrap_or_else(|| vec![0.0; g.c_out * k]);
    for part in parts {
        dw.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct six-loop convolution, the definition the kernels must meet.
    fn naive(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let (oh, ow) = g.out_hw();
        let mut out = vec![0.0; g.batch * g.c_out * oh * ow];
        for n in 0..g.batch {
            for co in 0..g.c_out {
                for o in 0..oh {
                    for q in 0..ow {
                        let mut acc = 0.0;
                        for c in 0..g.c_in {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let i = (o * g.stride[0] + ki) as isize - g.pad_begin[0] as isize;
                                    let j = (q * g.stride[1] + kj) as isize - g.pad_begin[1] as isize;
                                    if i < 0 || j < 0 || i >= g.h as isize || j >= g.w as isize {
                                        continue;
                                    }
                                    let xv = x[((n * g.c_in + c) * g.h + i as usize) * g.w + j as usize];
                                    acc += xv * w[((co * g.c_in + c) * g.kh + ki) * g.kw + kj];
                                }
                            }
                        }
                        out[((n * g.c_out + co) * oh + o) * ow + q] = acc;
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32).map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    fn geometry(x: [usize; 4], w: [usize; 4], stride: usize, pad: [(usize, usize); 2]) -> Geometry {
        let options = ConvOptions::new_with_padding([stride, stride], pad, [1, 1], 1);
        Geometry::covered(x, w, &options).expect("covered")
    }

    #[test]
    fn the_forward_pass_equals_a_direct_convolution_on_odd_strided_and_asymmetric_shapes() {
        let cases = [
            ([2, 3, 7, 5], [4, 3, 3, 3], 1, [(1, 1), (1, 1)]),
            ([1, 2, 9, 8], [3, 2, 3, 3], 2, [(0, 1), (0, 1)]),
            ([3, 4, 6, 6], [5, 4, 1, 1], 1, [(0, 0), (0, 0)]),
            ([2, 1, 11, 4], [2, 1, 5, 2], 3, [(2, 2), (0, 1)]),
        ];
        for (x, w, s, pad) in cases {
            let g = geometry(x, w, s, pad);
            let (xs, ws) = (values(x.iter().product(), 1), values(w.iter().product(), 2));
            let (ours, want) = (forward(&g, &xs, &ws), naive(&g, &xs, &ws));
            let diff = ours.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-4, "{x:?} {w:?} stride {s} {pad:?}: diff {diff}");
        }
    }

    #[test]
    fn grouped_dilated_or_mismatched_convolutions_are_left_to_flex() {
        let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
        assert!(Geometry::covered([1, 4, 5, 5], [4, 2, 3, 3], &grouped).is_none());
        let dilated = ConvOptions::new([1, 1], [1, 1], [2, 2], 1);
        assert!(Geometry::covered([1, 4, 5, 5], [4, 4, 3, 3], &dilated).is_none());
        let plain = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(Geometry::covered([1, 4, 2, 2], [4, 4, 3, 3], &plain).is_none(), "kernel larger than the image");
    }
}
