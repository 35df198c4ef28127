//! What the store's writer measures: how long each write waits until it is
//! durable (every write appends its audit event), how long each group
//! commit takes and how many writes it carries.
//!
//! The audit log's live state keeps these (`crate::audit::log::AuditLog`),
//! as the writer thread sees that and nothing else of the service; the
//! registry (`super::Metrics`) shares them.

use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

/// Bounds of the write and commit time buckets, in seconds: from half a
/// millisecond (a commit that shares one fsync) to a stalled disk.
const SECONDS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Bounds of the group size buckets: powers of two up to the writer's
/// largest group (512).
const WRITES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The writer's histograms; clones share them.
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    pub(super) append_seconds: Histogram,
    pub(super) commit_seconds: Histogram,
    pub(super) commit_writes: Histogram,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        Self {
            append_seconds: Histogram::new(SECONDS),
            commit_seconds: Histogram::new(SECONDS),
            commit_writes: Histogram::new(WRITES),
        }
    }
}

impl WriterMetrics {
    /// Time one write from its submission until it is durable (or failed);
    /// recorded when the returned guard is dropped.
    #[must_use = "the time is recorded when the guard is dropped"]
    pub fn append(&self) -> Timer<'_> {
        Timer { histogram: &self.append_seconds, started: Instant::now() }
    }

    /// Time one group commit of `writes` writes; recorded, with the group's
    /// size, when the returned guard is dropped.
    #[must_use = "the time is recorded when the guard is dropped"]
    pub fn group(&self, writes: usize) -> Timer<'_> {
        self.commit_writes.observe(writes as f64);
        Timer { histogram: &self.commit_seconds, started: Instant::now() }
    }
}

/// Observes the time since it was made when dropped.
#[derive(Debug)]
pub struct Timer<'a> {
    histogram: &'a Histogram,
    started: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, Snapshot};

    fn rendered(metrics: &Metrics) -> String {
        let snapshot =
            Snapshot { sealed: false, cluster: None, log_size: 0, stored: None, now: time::OffsetDateTime::UNIX_EPOCH };
        metrics.render(&snapshot)
    }

    #[test]
    fn a_group_records_its_size_at_once_and_its_time_when_it_ends() {
        let writer = WriterMetrics::default();
        let metrics = Metrics::new(&writer);
        let group = writer.group(3);
        let during = rendered(&metrics);
        assert!(during.contains("rootvault_audit_commit_writes_sum 3.0\n"), "{during}");
        assert!(during.contains("rootvault_audit_commit_duration_seconds_count 0\n"), "{during}");
        drop(group);
        drop(writer.append());
        let after = rendered(&metrics);
        assert!(after.contains("rootvault_audit_commit_duration_seconds_count 1\n"), "{after}");
        assert!(after.contains("rootvault_audit_append_duration_seconds_count 1\n"), "{after}");
    }
}
