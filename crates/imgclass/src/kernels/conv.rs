//! 2-D convolution on the CPU in NCHW, f32, groups 1, dilation 1: forward, input gradient and
//! weight gradient (depthwise convolutions go to `depthwise`), each as one matrix product per image (im2col, Chellapilla et al. 2006) on
//! the `gemm` crate's kernels (AVX2/AVX-512 chosen at run time).
//!
//! Tensors stay in NCHW from layer to layer: an image's columns are `K × P` (`K = C_in·k_h·k_w`,
//! `P = H_out·W_out`), so `out = W · cols` lands in NCHW with no layout conversion. The batch is
//! cut into one group of images per thread; each group reuses one column buffer (and, for the
//! weight gradient, one accumulator), so a 2-core machine runs two large tasks, not hundreds.
//! A 1×1 stride-1 unpadded convolution uses the image itself as its columns; the column
//! matrices of the others are built and folded back in `cols`.

use std::mem::MaybeUninit;

use gemm::Parallelism;
use rayon::prelude::*;

use super::act::{Post, shift_act};
pub(crate) use super::cols::Geometry;
use super::cols::{col2im, im2col};
use super::depthwise;
use super::simd::{as_uninit, assume_written, written};

/// Multiply-adds from which one image's product is split between threads when there are fewer
/// images than threads.
const SPLIT_MACS: usize = 1 << 23;

/// Where a matrix product goes: over storage whose values are not read (it may hold none
/// yet), or added to values already there.
enum Dst<'a> {
    Overwrite(&'a mut [MaybeUninit<f32>]),
    Accumulate(&'a mut [f32]),
}

/// `dst (m × n, row-major) = or += lhs (m × k) · rhs (k × n)`; `lhs` and `rhs` given with their
/// column and row strides in elements; on `threads` threads (the product split by `gemm`).
fn matmul([m, n, k]: [usize; 3], dst: Dst, lhs: (&[f32], isize, isize), rhs: (&[f32], isize, isize), threads: usize) {
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
            if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None },
        );
    }
}

/// Forward: `x` `[N, C_in, H, W]`, `w` `[C_out, C_in, kh, kw]` → `[N, C_out, H_out, W_out]`,
/// then `post`.
pub(crate) fn forward(g: &Geometry, x: &[f32], w: &[f32], post: Post) -> Vec<f32> {
    if g.depthwise {
        return depthwise::forward(g, x, w, post);
    }
    let (k, p) = (g.col_rows(), g.out_pixels());
    let group = g.group();
    // Fewer images than threads (batch 1 at prediction time): each large product is split
    // instead. Waking a thread costs tens of microseconds, so small products stay whole.
    let large = g.c_out * p * k >= SPLIT_MACS;
    let threads = if large { rayon::current_num_threads() / g.batch.div_ceil(group).max(1) } else { 1 };
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
                matmul([g.c_out, p, k], Dst::Overwrite(out), (w, 1, k as isize), (cols, 1, p as isize), threads);
                if let Some((shift, act)) = post {
                    // SAFETY: the product wrote all `C_out × P` values of the image.
                    let out = unsafe { assume_written(out) };
                    for (plane, &shift) in out.chunks_exact_mut(p).zip(shift) {
                        shift_act(plane, shift, act);
                    }
                }
            }
        })
    };
    // SAFETY: the images' outputs cover the buffer, and each product writes all `C_out × P`
    // values of its image.
    unsafe { written(g.batch * g.out_len(), write) }
}

/// Input gradient: `dy` `[N, C_out, H_out, W_out]` → `[N, C_in, H, W]`.
pub(crate) fn backward_x(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.depthwise {
        return depthwise::backward_x(g, w, dy);
    }
    let (k, p) = (g.col_rows(), g.out_pixels());
    let group = g.group();
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(group * g.in_len()).enumerate().for_each(|(t, dxs)| {
            let mut cols = if g.pointwise() { Vec::new() } else { vec![0.0f32; k * p] };
            for (i, dx) in dxs.chunks_mut(g.in_len()).enumerate() {
                let dy = &dy[(t * group + i) * g.out_len()..][..g.out_len()];
                // Columns' gradient = Wᵀ (K × C_out) · dy (C_out × P).
                let lhs = (w, k as isize, 1);
                if g.pointwise() {
                    matmul([k, p, g.c_out], Dst::Overwrite(dx), lhs, (dy, 1, p as isize), 1);
                } else {
                    // SAFETY: the product writes every element of the columns with a value.
                    let cols_out = unsafe { as_uninit(&mut cols) };
                    matmul([k, p, g.c_out], Dst::Overwrite(cols_out), lhs, (dy, 1, p as isize), 1);
                    col2im(g, &mut cols, dx);
                }
            }
        })
    };
    // SAFETY: the images' gradients cover the buffer; each is written whole by the product
    // (pointwise: `K = C_in` rows of `P = H·W`) or by `col2im`, which zeroes it first.
    unsafe { written(g.batch * g.in_len(), write) }
}

/// Weight gradient: `Σ_n dy[n] (C_out × P) · cols[n]ᵀ (P × K)` → `[C_out, C_in, kh, kw]`,
/// computed transposed and transposed back once.
pub(crate) fn backward_w(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.depthwise {
        return depthwise::backward_w(g, x, dy);
    }
    let (k, p) = (g.col_rows(), g.out_pixels());
    let group = g.group();
    let partials: Vec<Vec<f32>> = (0..g.batch.div_ceil(group))
        .into_par_iter()
        .map(|t| {
            let mut dwt = vec![0.0f32; g.c_out * k];
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
                // dWᵀ (K × C_out) = cols (K × P) · dyᵀ (P × C_out): `gemm` then runs along the
                // columns' contiguous rows without repacking them (it packs `dy`, 9× smaller).
                // SAFETY: the product writes every element of `dwt` with a value.
                let dst =
                    if i == 0 { Dst::Overwrite(unsafe { as_uninit(&mut dwt) }) } else { Dst::Accumulate(&mut dwt) };
                matmul([k, g.c_out, p], dst, (cols, 1, p as isize), (dy, p as isize, 1), 1);
            }
            dwt
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut dwt = parts.next().unwrap_or_else(|| vec![0.0; g.c_out * k]);
    for part in parts {
        dwt.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
    }
    let mut dw = vec![0.0f32; g.c_out * k];
    for (kk, row) in dwt.chunks_exact(g.c_out).enumerate() {
        for (co, v) in row.iter().enumerate() {
            dw[co * k + kk] = *v;
        }
    }
    dw
}

#[cfg(test)]
mod tests {
    use burn::tensor::ops::ConvOptions;

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
            // Stride 1, output as wide as the input: the shifted-plane path, symmetric and not.
            ([2, 3, 5, 7], [2, 3, 4, 4], 1, [(1, 2), (2, 1)]),
            ([1, 2, 4, 6], [3, 2, 5, 5], 1, [(2, 2), (2, 2)]),
            ([1, 2, 3, 5], [2, 2, 3, 3], 1, [(0, 0), (1, 1)]),
            ([1, 1, 2, 3], [1, 1, 5, 3], 1, [(3, 3), (1, 1)]),
        ];
        for (x, w, s, pad) in cases {
            let g = geometry(x, w, s, pad);
            let (xs, ws) = (values(x.iter().product(), 1), values(w.iter().product(), 2));
            let (ours, want) = (forward(&g, &xs, &ws, None), naive(&g, &xs, &ws));
            let diff = ours.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-4, "{x:?} {w:?} stride {s} {pad:?}: diff {diff}");
        }
    }

    #[test]
    fn grouped_dilated_or_mismatched_convolutions_are_left_to_flex() {
        let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
        assert!(Geometry::covered([1, 4, 5, 5], [4, 2, 3, 3], &grouped).is_none());
        let multiplier = ConvOptions::new([1, 1], [1, 1], [1, 1], 4);
        assert!(Geometry::covered([1, 4, 5, 5], [8, 1, 3, 3], &multiplier).is_none(), "two filters per channel");
        let depthwise = Geometry::covered([1, 4, 5, 5], [4, 1, 3, 3], &multiplier);
        assert!(depthwise.is_some_and(|g| g.depthwise));
        let dilated = ConvOptions::new([1, 1], [1, 1], [2, 2], 1);
        assert!(Geometry::covered([1, 4, 5, 5], [4, 4, 3, 3], &dilated).is_none());
        let plain = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(Geometry::covered([1, 4, 2, 2], [4, 4, 3, 3], &plain).is_none(), "kernel larger than the image");
    }
}
