//! A small seeded generator for the random selectors.

/// SplitMix64 (Steele, Lea & Flood 2014). Its sequence for a seed is fixed by its definition, so runs
/// are reproducible across Rust and crate versions (which `rand`'s `StdRng` does not promise), and it
/// is plenty for picking backends.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        super::super::backend::mix64(self.state)
    }

    /// Uniform in `0..n` (`n` > 0), by Lemire's multiply-shift; the bias is below n/2^64.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_range() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        // Published first output of SplitMix64 for seed 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut r = SplitMix64::new(1);
        let mut seen = [false; 3];
        for _ in 0..100 {
            let v = r.below(3);
            seen[v as usize] = true;
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(seen, [true; 3]);
    }
}
