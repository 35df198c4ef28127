//! Summaries of measured latencies.

use std::time::Duration;

/// The `p`-th percentile (0 < p ≤ 100) of `samples` by the nearest-rank
/// method: the smallest sample at least `p` per cent of all are no greater
/// than. `None` without samples. Sorts `samples`.
pub fn percentile(samples: &mut [Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    samples.sort_unstable();
    // ceil(p/100 · n) is between 1 and n for 0 < p ≤ 100.
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples.get(rank.clamp(1, samples.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_sample_whatever_the_order() {
        assert_eq!(percentile(&mut ms(&[9, 1, 5, 3, 7]), 50.0), Some(Duration::from_millis(5)));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_lower_middle_sample() {
        assert_eq!(percentile(&mut ms(&[4, 1, 3, 2]), 50.0), Some(Duration::from_millis(2)));
    }

    #[test]
    fn percentiles_of_a_hundred_samples_are_the_samples_of_that_rank() {
        let mut samples = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(percentile(&mut samples, 1.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&mut samples, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&mut samples, 99.5), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&mut samples, 100.0), Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        for p in [0.1, 50.0, 100.0] {
            assert_eq!(percentile(&mut ms(&[7]), p), Some(Duration::from_millis(7)));
        }
    }

    #[test]
    fn no_samples_or_a_percentile_out_of_range_has_no_answer() {
        assert_eq!(percentile(&mut [], 50.0), None);
        assert_eq!(percentile(&mut ms(&[1, 2]), 0.0), None);
        assert_eq!(percentile(&mut ms(&[1, 2]), 100.5), None);
        assert_eq!(percentile(&mut ms(&[1, 2]), f64::NAN), None);
    }
}
