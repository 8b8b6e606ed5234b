//! Outliers: images far from every other image in the network's feature space — a photo of
//! something that is none of the classes, a blank or corrupted file, a scan with inverted
//! colours. The measure is the deep nearest-neighbour distance of Sun, Ming, Zhu and Li
//! ("Out-of-Distribution Detection with Deep Nearest Neighbors", ICML 2022): the cosine
//! distance from an image's embedding ([`crate::models::Net::embed`]) to its k-th nearest
//! neighbour among reference images the model trained on. An image is an outlier when its
//! distance is beyond a fence of the distances of the images scored with it — the third
//! quartile + 4.5 × the interquartile range — and not near ([`NEAR`]), so a dataset without
//! outliers flags none. Tukey's "far out" fence is 3 × the range; these distances are skewed
//! to the right, and on the bundled Fashion-MNIST sample with 20 foreign images planted
//! (`bench/label_noise.sh`) 3 × flagged 19 of them and 296 garments (3%), 4.5 × 18 and 124
//! (1.2%), 6 × 13 and 54.

use rayon::prelude::*;

/// Which neighbour's distance counts (the k of k-nearest neighbours; cleanlab's default).
pub(crate) const NEIGHBOURS: usize = 10;

/// Scales each `dim`-wide row of `rows` to unit length (all-zero rows stay zero).
pub(crate) fn normalize(rows: &mut [f32], dim: usize) {
    for row in rows.chunks_exact_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// For each unit-length query row, the cosine distance (1 − cosine similarity, clamped to
/// [0, 1]) to its `k`-th most similar unit-length `bank` row; `itself[q]`, when given, is the
/// bank row that is query `q` itself and is skipped. With fewer than `k` other bank rows, the
/// farthest one counts.
pub(crate) fn kth_neighbour_distance(
    bank: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    itself: Option<&[usize]>,
) -> Vec<f32> {
    let k = k.max(1);
    queries
        .par_chunks_exact(dim)
        .enumerate()
        .map(|(q, query)| {
            // The k largest similarities so far, smallest first.
            let mut best: Vec<f32> = Vec::with_capacity(k + 1);
            for (b, row) in bank.chunks_exact(dim).enumerate() {
                if itself.is_some_and(|s| s[q] == b) {
                    continue;
                }
                let sim: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
                if best.len() < k || sim > best[0] {
                    let at = best.partition_point(|&s| s < sim);
                    best.insert(at, sim);
                    if best.len() > k {
                        best.remove(0);
                    }
                }
            }
            best.first().map_or(1.0, |&s| (1.0 - s).clamp(0.0, 1.0))
        })
        .collect()
}

/// Within this cosine distance of its k-th neighbour (similarity 0.95) an image is never an
/// outlier, however tightly the others cluster (the quartiles of a synthetic dataset can be
/// a thousandth apart).
pub(crate) const NEAR: f32 = 0.05;

/// How many interquartile ranges above the third quartile the fence lies.
const FENCE_IQRS: f32 = 4.5;

/// The outlier fence of `values`: Q3 + 4.5 × (Q3 − Q1), quartiles by linear interpolation,
/// and at least [`NEAR`]; infinite for fewer than 4 values (too few to call any far out).
pub(crate) fn outlier_fence(values: &[f32]) -> f32 {
    if values.len() < 4 {
        return f32::INFINITY;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let quantile = |p: f32| {
        let x = p * (v.len() - 1) as f32;
        let (i, frac) = (x.floor() as usize, x.fract());
        v[i] + (v[(i + 1).min(v.len() - 1)] - v[i]) * frac
    };
    let (q1, q3) = (quantile(0.25), quantile(0.75));
    (q3 + FENCE_IQRS * (q3 - q1)).max(NEAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(rows: &[[f32; 2]]) -> Vec<f32> {
        let mut v: Vec<f32> = rows.iter().flatten().copied().collect();
        normalize(&mut v, 2);
        v
    }

    #[test]
    fn the_kth_neighbour_distance_is_one_minus_the_kth_largest_cosine() {
        let bank = unit(&[[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [-1.0, 0.0]]);
        let queries = unit(&[[1.0, 0.0], [0.0, -1.0]]);
        let d1 = kth_neighbour_distance(&bank, &queries, 2, 1, None);
        assert!(d1[0].abs() < 1e-6, "its own copy is at distance 0: {d1:?}");
        assert!((d1[1] - 1.0).abs() < 1e-6, "orthogonal to the best of the bank: {d1:?}");
        let d2 = kth_neighbour_distance(&bank, &queries, 2, 2, None);
        let cos = 1.0 / 1.01f32.sqrt();
        assert!((d2[0] - (1.0 - cos)).abs() < 1e-6, "{d2:?}");
        let skip = kth_neighbour_distance(&bank, &queries[..2], 2, 1, Some(&[0]));
        assert!((skip[0] - (1.0 - cos)).abs() < 1e-6, "the query itself is skipped: {skip:?}");
    }

    #[test]
    fn the_fence_flags_only_a_far_value() {
        let mut d: Vec<f32> = (0..100).map(|i| 0.1 + 0.001 * i as f32).collect();
        let fence = outlier_fence(&d);
        assert!(d.iter().all(|&x| x <= fence), "a tight cluster has no outlier: fence {fence}");
        d.push(0.9);
        assert!(0.9 > outlier_fence(&d), "one far value is past the fence");
        assert!(outlier_fence(&[0.1, 0.9]).is_infinite());
        assert_eq!(outlier_fence(&[0.001, 0.001, 0.001, 0.002, 0.003]), NEAR, "a tight cluster's fence is floored");
    }
}
