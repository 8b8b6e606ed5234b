//! The geometry of augmentation: projective maps in normalized coordinates and the bilinear
//! sampler that applies one to an image, with its edge modes (the `grid_sample` of PyTorch,
//! `align_corners=False`).

use serde::{Deserialize, Serialize};

/// How source pixels outside the image are filled when a transform reaches past the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PadMode {
    /// Mirror the image at its edges (fastai's default).
    #[default]
    Reflection,
    /// Black.
    Zeros,
    /// Repeat the edge pixels.
    Border,
}

/// The output → source map of a rotation by `angle` (radians), a zoom, a shift `(tx, ty)` and
/// flips `(fx, fy)` (±1), in coordinates normalized to `[-1, 1]`.
pub(crate) fn affine(angle: f64, zoom: f64, (tx, ty): (f64, f64), (fx, fy): (f64, f64)) -> Mat3 {
    let (c, s) = (angle.cos() / zoom, angle.sin() / zoom);
    [[c * fx, -s * fy, tx], [s * fx, c * fy, ty], [0.0, 0.0, 1.0]]
}

/// Resizes a `channels × sh × sw` image to `oh × ow` (bilinear, no augmentation).
pub(crate) fn rescale(src: &[u8], channels: usize, (sh, sw): (usize, usize), (oh, ow): (usize, usize)) -> Vec<u8> {
    if (sh, sw) == (oh, ow) {
        return src.to_vec();
    }
    sample(src, channels, (sh, sw), (oh, ow), &IDENTITY, PadMode::Border)
}

pub(crate) type Mat3 = [[f64; 3]; 3];
pub(crate) const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

pub(crate) fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// fastai's perspective warp: the output's corners map to corners moved by `(wx, wy)`.
pub(crate) fn warp(wx: f64, wy: f64) -> Mat3 {
    let from = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
    let to = [(-1.0 - wy, -1.0 - wx), (-1.0 + wy, 1.0 + wx), (1.0 + wy, -1.0 + wx), (1.0 - wy, 1.0 - wx)];
    homography(&from, &to).unwrap_or(IDENTITY)
}

/// The projective map taking the four points `from` to `to` (None when degenerate).
pub(crate) fn homography(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<Mat3> {
    // Unknowns h0..h7 (h8 = 1): x' (h6 x + h7 y + 1) = h0 x + h1 y + h2, same for y'.
    let mut a = [[0.0f64; 9]; 8];
    for (k, (&(x, y), &(u, v))) in from.iter().zip(to).enumerate() {
        a[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for r in a.iter_mut().enumerate().filter(|(row, _)| *row != col).map(|(_, r)| r) {
            let f = r[col] / pivot_row[col];
            for (x, p) in r[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    Some([[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]])
}

/// Maps a coordinate outside `0..n` back inside (mirror about the edge pixels' centres).
fn reflect(p: f64, n: usize) -> f64 {
    if n == 1 {
        return 0.0;
    }
    let period = 2.0 * (n - 1) as f64;
    let p = p.abs() % period;
    if p > (n - 1) as f64 { period - p } else { p }
}

/// Samples the source at `map(output)` for every output pixel (bilinear). Coordinates are
/// normalized to `[-1, 1]` over pixel centres' extent, as `grid_sample(align_corners=False)`.
pub(crate) fn sample(
    src: &[u8],
    channels: usize,
    (sh, sw): (usize, usize),
    (oh, ow): (usize, usize),
    map: &Mat3,
    pad: PadMode,
) -> Vec<u8> {
    let (splane, oplane) = (sh * sw, oh * ow);
    let mut out = vec![0u8; channels * oplane];
    for oy in 0..oh {
        let y = (2.0 * oy as f64 + 1.0) / oh as f64 - 1.0;
        for ox in 0..ow {
            let x = (2.0 * ox as f64 + 1.0) / ow as f64 - 1.0;
            let w = map[2][0] * x + map[2][1] * y + map[2][2];
            let sx = (map[0][0] * x + map[0][1] * y + map[0][2]) / w;
            let sy = (map[1][0] * x + map[1][1] * y + map[1][2]) / w;
            let mut px = (sx + 1.0) * sw as f64 / 2.0 - 0.5;
            let mut py = (sy + 1.0) * sh as f64 / 2.0 - 0.5;
            match pad {
                PadMode::Reflection => (px, py) = (reflect(px, sw), reflect(py, sh)),
                PadMode::Border => (px, py) = (px.clamp(0.0, (sw - 1) as f64), py.clamp(0.0, (sh - 1) as f64)),
                PadMode::Zeros => {}
            }
            let (x0, y0) = (px.floor(), py.floor());
            let (fx, fy) = (px - x0, py - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let taps = [
                (x0, y0, (1.0 - fx) * (1.0 - fy)),
                (x0 + 1, y0, fx * (1.0 - fy)),
                (x0, y0 + 1, (1.0 - fx) * fy),
                (x0 + 1, y0 + 1, fx * fy),
            ];
            let o = oy * ow + ox;
            for c in 0..channels {
                let plane = &src[c * splane..(c + 1) * splane];
                let mut v = 0.0;
                for &(tx, ty, wt) in &taps {
                    if wt == 0.0 {
                        continue;
                    }
                    // Reflection and border moved the point inside: a tap past the edge has weight 0.
                    if tx >= 0 && ty >= 0 && (tx as usize) < sw && (ty as usize) < sh {
                        v += wt * plane[ty as usize * sw + tx as usize] as f64;
                    }
                }
                out[c * oplane + o] = (v + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warp_homography_sends_each_corner_where_it_was_asked() {
        let m = warp(0.2, -0.1);
        let to = [(-1.0 + 0.1, -1.0 - 0.2), (-1.0 - 0.1, 1.0 + 0.2), (1.0 - 0.1, -1.0 + 0.2), (1.0 + 0.1, 1.0 - 0.2)];
        for ((x, y), (u, v)) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)].into_iter().zip(to) {
            let w = m[2][0] * x + m[2][1] * y + m[2][2];
            let (mu, mv) = ((m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w);
            assert!((mu - u).abs() < 1e-9 && (mv - v).abs() < 1e-9, "({x},{y}) → ({mu},{mv}), want ({u},{v})");
        }
    }

    #[test]
    fn reflection_mirrors_about_the_edge_pixels() {
        assert_eq!(reflect(-1.0, 4), 1.0);
        assert_eq!(reflect(4.0, 4), 2.0);
        assert_eq!(reflect(2.5, 4), 2.5);
    }

    #[test]
    fn rescaling_halves_a_checkerboard_to_its_average() {
        let img: Vec<u8> = (0..16).map(|i| if (i % 4 + i / 4) % 2 == 0 { 0 } else { 200 }).collect();
        let out = rescale(&img, 1, (4, 4), (2, 2));
        assert!(out.iter().all(|&v| v == 100), "{out:?}");
    }
}
