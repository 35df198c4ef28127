//! The gauges read when Prometheus scrapes, rather than kept up to date:
//! the seal, the node's role in its cluster, the audit log's size and the
//! age of its newest checkpoint, and the outbox's backlog.
//!
//! The last two need the database: one read, two cheap queries (the newest
//! checkpoint by its primary key, the pending deliveries through the
//! outbox's `(state, next_attempt_at)` index), made only when scraped, so
//! an idle service does no work for them. When the read fails, those
//! gauges are left out of that scrape (and the failure is logged) rather
//! than shown stale.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::labels::ChannelLabels;
use crate::app::App;
use crate::ha::Role;
use crate::store::outbox::Channel;
use crate::store::{self, StoreError};

/// This node's place in a PostgreSQL cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cluster {
    /// Whether this node holds the lease.
    pub active: bool,
    /// The lease's term as this node knows it (its own, or the active
    /// node's); `None` while no node is known to lead.
    pub term: Option<i64>,
}

impl Cluster {
    pub fn of(role: &Role) -> Self {
        match role {
            Role::Active { term } => Self { active: true, term: term.map(|t| t.get()) },
            Role::Standby { active } => Self { active: false, term: active.as_ref().map(|a| a.term.get()) },
        }
    }
}

/// What the database says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The newest checkpoint's size and when it was signed (RFC 3339).
    pub checkpoint: Option<(u64, String)>,
    /// Deliveries waiting to be sent, per channel.
    pub pending: Vec<(Channel, u64)>,
}

/// Everything the scrape-time gauges show.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub sealed: bool,
    /// On PostgreSQL only: a single SQLite node has no cluster.
    pub cluster: Option<Cluster>,
    /// Events in the audit log, as this process knows it.
    pub log_size: u64,
    /// `None` when the database could not be read.
    pub stored: Option<Stored>,
    pub now: OffsetDateTime,
}

impl Snapshot {
    /// Read the gauges of `app` now.
    pub async fn take(app: &App) -> Self {
        let vault = &app.vault;
        let status = app.ha.status();
        let stored = vault
            .store()
            .read(|c| {
                Ok::<_, StoreError>(Stored {
                    checkpoint: store::audit::newest_checkpoint_time(c)?,
                    pending: store::outbox::pending_by_channel(c)?,
                })
            })
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "the metrics' database gauges could not be read"))
            .ok();
        Self {
            sealed: vault.keys().seal_status().sealed,
            cluster: status.ha_enabled.then(|| Cluster::of(&status.role)),
            log_size: vault.store().log().tree().size(),
            stored,
            now: OffsetDateTime::now_utc(),
        }
    }

    /// The gauges, in a registry of their own made for this scrape (a gauge
    /// with nothing to show is left out).
    pub(super) fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix(super::PREFIX);
        registry.register(
            "sealed",
            "Whether the key provider is sealed (1) or unsealed (0)",
            gauge(self.sealed.into()),
        );
        if let Some(cluster) = self.cluster {
            registry.register(
                "ha_active",
                "Whether this node holds the cluster's lease (1) or is a standby (0)",
                gauge(cluster.active.into()),
            );
            if let Some(term) = cluster.term {
                registry.register("ha_term", "The term of the cluster's lease as this node knows it", gauge(term));
            }
        }
        let log_size = i64::try_from(self.log_size).unwrap_or(i64::MAX);
        registry.register("audit_events", "Events in the audit log", gauge(log_size));
        let Some(stored) = &self.stored else { return registry };
        if let Some((size, signed_at)) = &stored.checkpoint {
            if let Some(age) = age_seconds(signed_at, self.now) {
                let age_gauge = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
                age_gauge.set(age);
                registry.register_with_unit(
                    "audit_checkpoint_age",
                    "Time since the newest signed checkpoint",
                    Unit::Seconds,
                    age_gauge,
                );
            }
            let unsigned = i64::try_from(self.log_size.saturating_sub(*size)).unwrap_or(i64::MAX);
            registry.register(
                "audit_events_after_checkpoint",
                "Events appended since the newest signed checkpoint",
                gauge(unsigned),
            );
        }
        let pending = Family::<ChannelLabels, Gauge>::default();
        for channel in [Channel::Webhook, Channel::Email, Channel::Chat] {
            let count = stored.pending.iter().find(|(c, _)| *c == channel).map_or(0, |(_, n)| *n);
            pending
                .get_or_create(&ChannelLabels { channel: channel.as_str() })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        registry.register("outbox_pending_deliveries", "Deliveries waiting to be sent, per channel", pending);
        registry
    }
}

/// A gauge set to `value`.
fn gauge(value: i64) -> Gauge {
    let gauge = Gauge::default();
    gauge.set(value);
    gauge
}

/// Seconds from `signed_at` (RFC 3339) to `now`; never negative (clocks
/// of cluster nodes differ a little).
fn age_seconds(signed_at: &str, now: OffsetDateTime) -> Option<f64> {
    let signed = OffsetDateTime::parse(signed_at, &Rfc3339).ok()?;
    Some((now - signed).as_seconds_f64().max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::{ActiveNode, InstanceId, Term};

    #[test]
    fn a_checkpoint_age_is_measured_from_its_signing_time() {
        let now = OffsetDateTime::parse("2026-11-23T10:00:30.500Z", &Rfc3339).unwrap();
        assert_eq!(age_seconds("2026-11-23T10:00:00.000Z", now), Some(30.5));
        assert_eq!(age_seconds("2026-11-23T10:01:00.000Z", now), Some(0.0));
        assert_eq!(age_seconds("yesterday", now), None);
    }

    #[test]
    fn a_standby_shows_the_active_nodes_term_and_no_leader_shows_none() {
        assert_eq!(Cluster::of(&Role::Active { term: Some(Term::new(7)) }), Cluster { active: true, term: Some(7) });
        let leader = ActiveNode {
            instance: InstanceId::random(),
            node: "rv-1".into(),
            api_addr: "https://rv-1.internal:8750".into(),
            term: Term::new(8),
        };
        assert_eq!(Cluster::of(&Role::Standby { active: Some(leader) }), Cluster { active: false, term: Some(8) });
        assert_eq!(Cluster::of(&Role::Standby { active: None }), Cluster { active: false, term: None });
    }
}
