//! A small seeded generator (SplitMix64), so splits and shuffles are reproducible across
//! platforms and crate versions.

/// SplitMix64 (Steele, Lea & Flood 2014): fast, and every seed gives a good stream. Its whole
/// state is one `u64`, so a checkpoint can store it and a resumed run draw the same numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The generator's state, to store.
    pub fn state(&self) -> u64 {
        self.0
    }

    /// A generator that continues from a stored `state`.
    pub(crate) fn from_state(state: u64) -> Self {
        Self(state)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform float in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1], so the logarithm is finite
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    /// A Gamma(`shape`, 1) draw, `shape > 0` (Marsaglia & Tsang 2000; below 1 through
    /// Gamma(shape + 1) · U^(1/shape)).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.unit();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.unit();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// A Beta(`a`, `b`) draw in `[0, 1]`, `a, b > 0`, as mixup and CutMix draw their weights.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y > 0.0 { x / (x + y) } else { 0.5 }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// SplitMix64's output function (Steele et al. 2014): a bijective mix of all 64 bits of `z`.
/// Always inlined, so that loops calling it are vectorized where they are compiled.
#[inline(always)]
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for the `index`-th use of `seed` (an epoch, a step): the first output of a generator
/// seeded with both, so nearby indices give unrelated seeds.
pub(crate) fn mix(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// FNV-1a, 64 bit: a stable fingerprint of bytes.
pub(crate) fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// The FNV-1a starting state.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generator_rebuilt_from_its_state_continues_the_same_stream() {
        let mut a = Rng::new(7);
        a.next_u64();
        let mut b = Rng::from_state(a.state());
        assert_eq!((a.next_u64(), a.below(10)), (b.next_u64(), b.below(10)));
    }

    #[test]
    fn beta_draws_have_the_distributions_mean_and_variance() {
        let mut rng = Rng::new(1);
        for (a, b) in [(0.4, 0.4), (1.0, 1.0), (2.0, 5.0)] {
            let n = 200_000;
            let draws: Vec<f64> = (0..n).map(|_| rng.beta(a, b)).collect();
            assert!(draws.iter().all(|x| (0.0..=1.0).contains(x)));
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let (m, v) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!((mean - m).abs() < 0.005 && (var - v).abs() < 0.005, "Beta({a}, {b}): {mean} {var}");
        }
    }

    #[test]
    fn mixed_seeds_differ_for_each_index() {
        let seeds: std::collections::HashSet<u64> = (0..100).map(|i| mix(42, i)).collect();
        assert_eq!(seeds.len(), 100);
        assert_eq!(mix(42, 3), mix(42, 3));
    }
}
