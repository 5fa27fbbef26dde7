//! Differential privacy for aggregate tables: noise from a cryptographic RNG, the
//! (discrete) Laplace and Gaussian mechanisms, their calibration and partition selection
//! (budget accounting is in [`super::ledger`]).
//!
//! - **Laplace** adds two-sided geometric ("discrete Laplace") noise to integer counts:
//!   `P(x) ∝ exp(-ε |x| / Δ₁)`. This is ε-differentially private for L1 sensitivity
//!   Δ₁, and being integer-valued it avoids the floating-point weaknesses of
//!   continuous Laplace noise.
//! - **Gaussian** adds `N(0, σ²)` noise, rounded to integers afterwards; σ is calibrated
//!   with the analytic Gaussian mechanism (Balle and Wang, 2018), which is exact for
//!   any ε, for L2 sensitivity Δ₂. It is (ε, δ)-differentially private.
//!
//! Noise comes from the operating system's cryptographic generator (ring's
//! `SystemRandom`, through `crate::crypto::fill_random`) through [`NoiseSource`]; tests use a seeded generator behind the
//! same trait, which never leaves test builds.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A source of uniformly random 64-bit words for noise.
pub trait NoiseSource {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> Result<u64>;
}

/// Noise from the operating system's cryptographic random number generator.
pub struct SystemNoise {
    buf: [u8; 4096],
    pos: usize,
}

impl std::fmt::Debug for SystemNoise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemNoise")
    }
}

impl SystemNoise {
    /// A new generator.
    pub fn new() -> SystemNoise {
        SystemNoise {
            buf: [0; 4096],
            pos: 4096,
        }
    }
}

impl Default for SystemNoise {
    fn default() -> Self {
        SystemNoise::new()
    }
}

impl NoiseSource for SystemNoise {
    fn next_u64(&mut self) -> Result<u64> {
        if self.pos + 8 > self.buf.len() {
            crate::crypto::fill_random(&mut self.buf)
                .map_err(|_| Error::Internal("the system random number generator failed".into()))?;
            self.pos = 0;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.buf[self.pos..self.pos + 8]);
        self.pos += 8;
        Ok(u64::from_le_bytes(word))
    }
}

/// A seeded, deterministic source for tests only (SplitMix64).
#[cfg(test)]
pub(crate) struct SeededNoise(pub(crate) super::testdata::Rng);

#[cfg(test)]
impl NoiseSource for SeededNoise {
    fn next_u64(&mut self) -> Result<u64> {
        Ok(self.0.next_u64())
    }
}

/// A uniform number in the open interval (0, 1), with 53 random bits.
pub(crate) fn uniform(src: &mut dyn NoiseSource) -> Result<f64> {
    let x = src.next_u64()? >> 11;
    Ok((x as f64 + 0.5) / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (`n > 0`), without modulo bias.
pub(crate) fn below(src: &mut dyn NoiseSource, n: u64) -> Result<u64> {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = src.next_u64()?;
        if x < zone {
            return Ok(x % n);
        }
    }
}

/// A draw from the discrete Laplace distribution `P(x) ∝ exp(-t |x|)`, `t = ε / Δ₁`,
/// as the difference of two geometric variables.
pub fn sample_discrete_laplace(src: &mut dyn NoiseSource, t: f64) -> Result<i64> {
    let geometric = |src: &mut dyn NoiseSource| -> Result<i64> {
        // P(G >= g) = q^g with q = exp(-t): G = floor(ln U / ln q).
        // `as` saturates; the callers keep t within [MIN_EPSILON / 8, MAX_EPSILON].
        Ok((uniform(src)?.ln() / -t).floor() as i64)
    };
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::invalid(
            "privacy",
            "the noise parameter must be positive",
        ));
    }
    Ok(geometric(src)?.saturating_sub(geometric(src)?))
}

/// A draw from `N(0, σ²)` (Box–Muller).
pub fn sample_gaussian(src: &mut dyn NoiseSource, sigma: f64) -> Result<f64> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(Error::invalid("privacy", "the noise scale must be finite"));
    }
    let u1 = uniform(src)?;
    let u2 = uniform(src)?;
    Ok(sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos())
}

/// The complementary error function (Numerical Recipes' `erfcc`, fractional error below
/// 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The standard normal cumulative distribution function.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The privacy loss profile of the Gaussian mechanism: the smallest δ for which noise σ
/// is (ε, δ)-DP at L2 sensitivity Δ₂ (Balle and Wang 2018, Theorem 8).
pub(crate) fn gaussian_delta(epsilon: f64, sigma: f64, l2: f64) -> f64 {
    let a = l2 / (2.0 * sigma);
    let b = epsilon * sigma / l2;
    normal_cdf(a - b) - epsilon.exp() * normal_cdf(-a - b)
}

/// The smallest σ for which Gaussian noise is (ε, δ)-DP at L2 sensitivity `l2`
/// (the analytic Gaussian mechanism).
pub fn gaussian_sigma(epsilon: f64, delta: f64, l2: f64) -> Result<f64> {
    if !(epsilon > 0.0 && epsilon <= 50.0 && delta > 0.0 && delta < 0.5 && l2 > 0.0) {
        return Err(Error::invalid("privacy", "need 0 < ε ≤ 50 and 0 < δ < 0.5"));
    }
    let mut hi = l2 * (2.0 * (1.25 / delta).ln()).sqrt() / epsilon.min(1.0);
    while gaussian_delta(epsilon, hi, l2) > delta {
        hi *= 2.0;
    }
    let mut lo = hi / 1e6;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gaussian_delta(epsilon, mid, l2) > delta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// The partition-selection threshold (Desfontaines, Voss, Gipson and Mandayam, PoPETs
/// 2022; Korolova et al. 2009): the smallest noisy count τ such that a cell holding a
/// single case is released with probability at most `delta / c`, so that the at most
/// `c` cells of one case are all hidden except with probability `delta` (union bound).
/// `scale` is the discrete Laplace parameter `t = ε/c` or the Gaussian σ. For
/// continuous Laplace noise of scale b = c/ε this is the textbook τ = 1 + b·ln(c/(2δ));
/// the discrete form is exact for the two-sided geometric noise used here.
pub fn selection_threshold(mechanism: &Mechanism, scale: f64, c: u32, delta: f64) -> u64 {
    let per_cell = delta / f64::from(c.max(1));
    match mechanism {
        Mechanism::Laplace => {
            // A count of 1 becomes 1 + X; P(X >= m) = q^m / (1 + q) for m >= 1.
            let q = (-scale).exp();
            let m = ((per_cell * (1.0 + q)).ln() / q.ln()).ceil().max(1.0);
            (m as u64).saturating_add(1)
        }
        Mechanism::Gaussian => {
            // round(1 + N) >= τ when N >= τ − 1.5.
            let mut tau = 2u64;
            while 1.0 - normal_cdf((tau as f64 - 1.5) / scale) > per_cell && tau < 1_000_000 {
                tau += 1;
            }
            tau
        }
    }
}

/// The half-width w of the 95% interval of one cell's noise: P(|noise| > w) ≤ 0.05.
/// `t` is the discrete Laplace parameter, `sigma` the Gaussian σ.
pub fn noise_half_width_95(mechanism: &Mechanism, t: f64, sigma: f64) -> u64 {
    match mechanism {
        Mechanism::Laplace => {
            // P(|X| >= w + 1) = 2 q^(w+1) / (1 + q).
            let q = (-t).exp();
            let w = ((0.025 * (1.0 + q)).ln() / q.ln()).ceil() - 1.0;
            w.max(0.0) as u64
        }
        // Rounded noise: |round(N)| <= ceil(1.96 σ).
        Mechanism::Gaussian => (1.959_964 * sigma).ceil() as u64,
    }
}

/// The noise mechanism of a differentially private table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Discrete Laplace noise: pure ε-DP.
    Laplace,
    /// Gaussian noise: (ε, δ)-DP.
    Gaussian,
}

impl Mechanism {
    /// The mechanism's name (`"laplace"` or `"gaussian"`).
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::Laplace => "laplace",
            Mechanism::Gaussian => "gaussian",
        }
    }
}

/// Share of ε spent on the noisy total; the rest goes to the cells.
pub const TOTAL_SHARE: f64 = 0.1;

/// Differential privacy for one table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpSpec {
    /// The privacy budget this output spends (ε), split between cells and the total.
    pub epsilon: f64,
    /// Laplace or Gaussian.
    pub mechanism: Mechanism,
    /// The most cells one case may count in (its other cells are dropped at random);
    /// `None`: the product of the dimensions' typical number of values per case (1 for
    /// most, 2 for exploitation types and referrals, 4 for means of control), at most 8.
    pub max_contributions: Option<u32>,
    /// δ: the probability that any cell of one case is shown by partition selection
    /// (Laplace), or that plus the Gaussian noise's own δ (half each). Default
    /// [`DEFAULT_DELTA`].
    pub delta: f64,
}

/// The default δ: far below 1 / the number of people in any Caravan data set.
pub const DEFAULT_DELTA: f64 = 1e-6;

/// The smallest ε accepted for one output. Below it the noise is so wide that the
/// table is useless, and at extreme values (1e-300) the arithmetic of the noise
/// overflows: the floor keeps every noise scale finite.
pub const MIN_EPSILON: f64 = 0.01;

/// The largest ε accepted for one output (above it the noise hides nothing: e^10 ≈
/// 22,000 is the ratio of output probabilities allowed between neighbouring data sets).
pub const MAX_EPSILON: f64 = 10.0;

impl DpSpec {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.epsilon >= MIN_EPSILON && self.epsilon <= MAX_EPSILON) {
            return Err(Error::invalid(
                "epsilon",
                format!(
                    "ε = {} is refused: give ε between {MIN_EPSILON} and {MAX_EPSILON} (a \
                     smaller ε makes noise too wide to compute safely, a larger one makes \
                     the noise meaningless); 1.0 is a common choice",
                    self.epsilon
                ),
            ));
        }
        if !(self.delta > 0.0 && self.delta < 0.5) {
            return Err(Error::invalid("delta", "δ must be in (0, 0.5)"));
        }
        if self.max_contributions == Some(0) {
            return Err(Error::invalid("max contributions", "must be at least 1"));
        }
        Ok(())
    }
}

/// The privacy an output has, and the budget it spent. Every table and chart carries
/// one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// Whether the counts are differentially private.
    pub differentially_private: bool,
    /// `"none"`, `"laplace"` or `"gaussian"`.
    pub mechanism: String,
    /// Total ε this output spent (cells plus total), by sequential composition.
    pub epsilon: Option<f64>,
    /// Total δ this output spent.
    pub delta: Option<f64>,
    /// ε spent on the cells.
    pub epsilon_cells: Option<f64>,
    /// ε spent on the total (always Laplace).
    pub epsilon_total: Option<f64>,
    /// The most cells one case counts in (the sensitivity bound).
    pub max_contributions: Option<u32>,
    /// Cell noise scale: Laplace `b = Δ₁/ε` or Gaussian σ.
    pub cell_noise_scale: Option<f64>,
    /// Small-cell threshold: cells below k are not shown.
    pub k: u32,
    /// The smallest count shown: k, or with DP the larger of k and the partition
    /// selection threshold.
    pub threshold: u64,
    /// DP only: the partition selection threshold from (ε, δ) (see
    /// [`selection_threshold`]).
    #[serde(default)]
    pub selection_threshold: Option<u64>,
    /// DP only: half-width of the 95% interval of each cell's noise.
    #[serde(default)]
    pub noise_95: Option<u64>,
    /// The guarantee in words.
    pub statement: String,
}

impl PrivacyReport {
    /// The report of an output protected by small-cell suppression only.
    pub fn suppression_only(k: u32) -> PrivacyReport {
        PrivacyReport {
            differentially_private: false,
            mechanism: "none".into(),
            epsilon: None,
            delta: None,
            epsilon_cells: None,
            epsilon_total: None,
            max_contributions: None,
            cell_noise_scale: None,
            k,
            threshold: u64::from(k),
            selection_threshold: None,
            noise_95: None,
            statement: format!(
                "not differentially private: exact counts, cells below k = {k} suppressed; \
                 no privacy budget spent"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::testdata::Rng;

    fn seeded(seed: u64) -> SeededNoise {
        SeededNoise(Rng::new(seed))
    }

    #[test]
    fn discrete_laplace_matches_its_distribution() {
        let mut src = seeded(1);
        for (epsilon, sensitivity) in [(1.0f64, 1.0f64), (0.5, 4.0), (2.0, 1.0)] {
            let t = epsilon / sensitivity;
            let q: f64 = (-t).exp();
            let n = 200_000;
            let span = 12i64;
            let mut bins = vec![0u64; (2 * span + 3) as usize];
            let mut sum = 0.0;
            let mut sumsq = 0.0;
            for _ in 0..n {
                let x = sample_discrete_laplace(&mut src, t).unwrap();
                sum += x as f64;
                sumsq += (x * x) as f64;
                let bin = if x < -span {
                    0
                } else if x > span {
                    2 * span + 2
                } else {
                    x + span + 1
                };
                bins[bin as usize] += 1;
            }
            let pmf = |x: i64| (1.0 - q) / (1.0 + q) * q.powi(x.abs() as i32);
            let tail = q.powi(span as i32 + 1) / (1.0 + q);
            let mut chi2 = 0.0;
            let mut df = 0;
            for (i, &obs) in bins.iter().enumerate() {
                let i = i as i64;
                let p = if i == 0 || i == 2 * span + 2 {
                    tail
                } else {
                    pmf(i - span - 1)
                };
                let expected = p * n as f64;
                if expected < 5.0 {
                    continue;
                }
                chi2 += (obs as f64 - expected).powi(2) / expected;
                df += 1;
            }
            // 99.9th percentile of χ² with ≤ 26 degrees of freedom is below 55.
            assert!(
                chi2 < 55.0,
                "ε={epsilon} Δ={sensitivity}: χ² = {chi2} over {df} bins"
            );
            let mean = sum / n as f64;
            let var = sumsq / n as f64 - mean * mean;
            let expected_var = 2.0 * q / (1.0 - q).powi(2);
            assert!(
                mean.abs() < 0.05 * expected_var.sqrt() + 0.01,
                "mean {mean}"
            );
            assert!(
                (var / expected_var - 1.0).abs() < 0.03,
                "var {var} vs {expected_var}"
            );
        }
    }

    #[test]
    fn gaussian_matches_its_distribution() {
        let mut src = seeded(2);
        let sigma = gaussian_sigma(1.0, 1e-6, 2f64.sqrt()).unwrap();
        let n = 50_000;
        let mut xs: Vec<f64> = (0..n)
            .map(|_| sample_gaussian(&mut src, sigma).unwrap())
            .collect();
        xs.sort_by(f64::total_cmp);
        // Kolmogorov–Smirnov against N(0, σ²).
        let d = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = normal_cdf(x / sigma);
                (f - i as f64 / n as f64)
                    .abs()
                    .max((f - (i + 1) as f64 / n as f64).abs())
            })
            .fold(0.0, f64::max);
        // Critical value at α = 0.001: 1.95 / √n.
        assert!(d < 1.95 / (n as f64).sqrt(), "KS D = {d}");
        let var = xs.iter().map(|x| x * x).sum::<f64>() / n as f64;
        assert!((var.sqrt() / sigma - 1.0).abs() < 0.02);
    }

    #[test]
    fn gaussian_calibration_is_tight_and_beats_the_classic_bound() {
        for (eps, delta, l2) in [(1.0, 1e-5, 1.0), (0.5, 1e-6, 2.0), (3.0, 1e-6, 1.0)] {
            let sigma = gaussian_sigma(eps, delta, l2).unwrap();
            assert!(gaussian_delta(eps, sigma, l2) <= delta * (1.0 + 1e-9));
            assert!(gaussian_delta(eps, sigma * 0.99, l2) > delta);
            if eps <= 1.0 {
                let classic = l2 * (2.0 * (1.25f64 / delta).ln()).sqrt() / eps;
                assert!(sigma < classic, "{sigma} vs {classic}");
            }
        }
        assert!(gaussian_sigma(0.0, 1e-6, 1.0).is_err());
        assert!(gaussian_sigma(1.0, 0.0, 1.0).is_err());
    }

    #[test]
    fn selection_thresholds_bound_a_single_persons_cell_by_delta() {
        for (eps, c, delta) in [(0.9f64, 1u32, 1e-6f64), (0.45, 2, 1e-6), (0.9, 1, 0.05)] {
            let t = eps / f64::from(c);
            let tau = selection_threshold(&Mechanism::Laplace, t, c, delta);
            let q = (-t).exp();
            // A count of 1 passes when the noise is at least tau − 1.
            let p = |m: u64| q.powi(m as i32) / (1.0 + q);
            assert!(
                p(tau - 1) * f64::from(c) <= delta,
                "{eps} {c} {delta}: {tau}"
            );
            assert!(p(tau - 2) * f64::from(c) > delta, "tight: {tau}");
            // Close to the continuous formula 1 + (c/ε) ln(c/(2δ)).
            let textbook = 1.0 + f64::from(c) / eps * (f64::from(c) / (2.0 * delta)).ln();
            assert!(
                (tau as f64 - textbook).abs() < 2.0 + 0.1 * textbook,
                "{tau} vs {textbook}"
            );
        }
        assert_eq!(selection_threshold(&Mechanism::Laplace, 0.9, 1, 1e-6), 16);
        let sigma = 4.0;
        let tau = selection_threshold(&Mechanism::Gaussian, sigma, 1, 1e-6);
        assert!(1.0 - normal_cdf((tau as f64 - 1.5) / sigma) <= 1e-6);
        assert!(1.0 - normal_cdf((tau as f64 - 2.5) / sigma) > 1e-6);
        // 95% noise intervals.
        let w = noise_half_width_95(&Mechanism::Laplace, 0.9, 0.0);
        let q = (-0.9f64).exp();
        assert!(2.0 * q.powi(w as i32 + 1) / (1.0 + q) <= 0.05);
        assert!(2.0 * q.powi(w as i32) / (1.0 + q) > 0.05);
        assert_eq!(noise_half_width_95(&Mechanism::Gaussian, 0.0, 1.0), 2);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-6);
        assert!((normal_cdf(-3.0) - 0.001_349_898).abs() < 1e-8);
    }

    #[test]
    fn system_noise_and_uniform_helpers() {
        let mut sys = SystemNoise::new();
        let a = sys.next_u64().unwrap();
        let b = sys.next_u64().unwrap();
        assert_ne!(a, b);
        for _ in 0..2000 {
            let u = uniform(&mut sys).unwrap();
            assert!(u > 0.0 && u < 1.0);
            assert!(below(&mut sys, 7).unwrap() < 7);
        }
    }

    #[test]
    fn spec_validation() {
        let ok = DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: DEFAULT_DELTA,
        };
        assert!(ok.validate().is_ok());
        assert!(DpSpec {
            epsilon: -1.0,
            ..ok
        }
        .validate()
        .is_err());
        assert!(DpSpec { delta: 0.0, ..ok }.validate().is_err());
        assert!(DpSpec {
            max_contributions: Some(0),
            delta: DEFAULT_DELTA,
            ..ok
        }
        .validate()
        .is_err());
    }
}
