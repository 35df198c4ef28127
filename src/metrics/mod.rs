//! Prometheus metrics (`GET /metrics`, docs/metrics.md): the one registry
//! of a running service and the small typed API the rest of the code
//! records through. No other module names the client crate's types.
//!
//! Counters and histograms are kept as things happen: requests (by route
//! template, never the raw path), releases, approvals and refusals (as the
//! vault's audited use cases end), witness and delivery failures, and the
//! store writer's timings ([`WriterMetrics`]). Gauges that are cheaper to
//! read than to maintain are read when scraped ([`Snapshot`]).
//!
//! No label carries a secret, an id or anything a client chose: each value
//! comes from a closed list or from the code ([`labels`]).

mod labels;
mod snapshot;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use labels::Route;
pub use snapshot::{Cluster, Snapshot, Stored};
pub use writer::{Timer, WriterMetrics};

use crate::audit::{Action, Outcome};
use crate::error::Error;
use crate::store::outbox::Channel;
use labels::{DeliveryLabels, RefusalLabels, ReleaseLabels, RequestLabels};

/// Every metric's name begins `rootvault_`.
const PREFIX: &str = "rootvault";

/// The media type of the text the scrape answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets, in seconds (Prometheus's defaults).
const REQUEST_SECONDS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_SECONDS)
}

/// The service's metrics; clones share them.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RequestLabels, Histogram, fn() -> Histogram>,
    releases: Family<ReleaseLabels, Counter>,
    approvals: Counter,
    refusals: Family<RefusalLabels, Counter>,
    witness_failures: Counter,
    delivery_failures: Family<DeliveryLabels, Counter>,
}

impl Metrics {
    /// A registry holding the service's metrics and `writer`'s.
    pub fn new(writer: &WriterMetrics) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let requests = Family::default();
        registry.register("http_requests", "HTTP requests answered, by method, route and status", requests.clone());
        let request_seconds = Family::new_with_constructor(request_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method, route and status",
            Unit::Seconds,
            request_seconds.clone(),
        );
        let releases = Family::default();
        registry.register(
            "releases",
            "Releases asked for (a password, an MFA code, a deliver link), by half and outcome",
            releases.clone(),
        );
        let approvals = Counter::default();
        registry.register("approvals", "Approvals of break-glass requests recorded", approvals.clone());
        let refusals = Family::default();
        registry.register(
            "refusals",
            "Audited requests refused or failed, by reason (the error code)",
            refusals.clone(),
        );
        let witness_failures = Counter::default();
        registry.register(
            "witness_failures",
            "Checkpoint witnesses that could not be written or read",
            witness_failures.clone(),
        );
        let delivery_failures = Family::default();
        registry.register(
            "delivery_failures",
            "Failed delivery attempts (webhook, e-mail, chat), by channel and whether they are retried",
            delivery_failures.clone(),
        );
        registry.register_with_unit(
            "audit_append_duration",
            "Time from a write's submission until it and its audit event are durable",
            Unit::Seconds,
            writer.append_seconds.clone(),
        );
        registry.register_with_unit(
            "audit_commit_duration",
            "Time of one group commit of the store's writer",
            Unit::Seconds,
            writer.commit_seconds.clone(),
        );
        registry.register("audit_commit_writes", "Writes carried by one group commit", writer.commit_writes.clone());
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_seconds,
                releases,
                approvals,
                refusals,
                witness_failures,
                delivery_failures,
            }),
        }
    }

    /// An HTTP request was answered with `status` after `elapsed`.
    pub fn request(&self, method: &axum::http::Method, route: Route<'_>, status: u16, elapsed: Duration) {
        let labels = RequestLabels::new(method, route, status);
        self.inner.request_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.inner.requests.get_or_create(&labels).inc();
    }

    /// An audited use case of `action` (on `half`, as its event's target
    /// names it) ended: granted, or refused with the error its caller gets.
    pub fn audited(&self, action: Action, half: Option<&str>, result: Result<(), &Error>) {
        let outcome = result.map_or_else(Error::outcome, |()| Outcome::Ok);
        match action {
            Action::HalfRelease => {
                self.inner.releases.get_or_create(&ReleaseLabels::new(half, outcome)).inc();
            }
            Action::RequestApprove if outcome == Outcome::Ok => {
                self.inner.approvals.inc();
            }
            _ => {}
        }
        if let Err(e) = result {
            self.inner.refusals.get_or_create(&RefusalLabels { reason: e.code() }).inc();
        }
    }

    /// A checkpoint witness could not be written or read.
    pub fn witness_failed(&self) {
        self.inner.witness_failures.inc();
    }

    /// A delivery attempt on `channel` failed; `gave_up` when it will not be
    /// tried again.
    pub fn delivery_failed(&self, channel: Channel, gave_up: bool) {
        self.inner.delivery_failures.get_or_create(&DeliveryLabels::new(channel, gave_up)).inc();
    }

    /// The OpenMetrics text of every metric, with the gauges of `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail, and every name and label value
        // is valid by construction, so the encoder has nothing to refuse.
        let encoded = encode_registry(&mut text, &snapshot.registry())
            .and_then(|()| encode_registry(&mut text, &self.inner.registry))
            .and_then(|()| encode_eof(&mut text));
        if encoded.is_err() {
            tracing::error!("the metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use time::OffsetDateTime;

    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            sealed: false,
            cluster: None,
            log_size: 12,
            stored: Some(Stored { checkpoint: None, pending: vec![(Channel::Email, 2)] }),
            now: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// The value of the sample `series` (name and labels, as written).
    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
    }

    #[test]
    fn counters_end_in_total_and_times_in_seconds() {
        let metrics = Metrics::new(&WriterMetrics::default());
        let route = Route::Template("/v1/requests/{id}/mfa-code");
        metrics.request(&Method::POST, route, 200, Duration::from_millis(30));
        metrics.audited(Action::HalfRelease, Some("mfa"), Ok(()));
        metrics.audited(Action::RequestApprove, None, Ok(()));
        metrics.audited(Action::HalfRelease, Some("password"), Err(&Error::ReauthenticationRequired));
        metrics.witness_failed();
        metrics.delivery_failed(Channel::Chat, true);
        let text = metrics.render(&snapshot());
        let labels = r#"{method="POST",route="/v1/requests/{id}/mfa-code",status="200"}"#;
        assert_eq!(sample(&text, &format!("rootvault_http_requests_total{labels}")).as_deref(), Some("1"));
        assert_eq!(
            sample(&text, &format!("rootvault_http_request_duration_seconds_count{labels}")).as_deref(),
            Some("1")
        );
        assert_eq!(sample(&text, r#"rootvault_releases_total{half="mfa",outcome="ok"}"#).as_deref(), Some("1"));
        assert_eq!(
            sample(&text, r#"rootvault_releases_total{half="password",outcome="denied"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(sample(&text, "rootvault_approvals_total").as_deref(), Some("1"));
        assert_eq!(
            sample(&text, r#"rootvault_refusals_total{reason="reauthentication_required"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(sample(&text, "rootvault_witness_failures_total").as_deref(), Some("1"));
        assert_eq!(
            sample(&text, r#"rootvault_delivery_failures_total{channel="chat",outcome="gave_up"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(sample(&text, "rootvault_sealed").as_deref(), Some("0"));
        assert_eq!(sample(&text, "rootvault_audit_events").as_deref(), Some("12"));
        assert_eq!(sample(&text, r#"rootvault_outbox_pending_deliveries{channel="email"}"#).as_deref(), Some("2"));
        assert_eq!(sample(&text, r#"rootvault_outbox_pending_deliveries{channel="webhook"}"#).as_deref(), Some("0"));
        assert!(text.contains("# TYPE rootvault_audit_commit_duration_seconds histogram"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn gauges_with_nothing_to_show_are_left_out() {
        let metrics = Metrics::new(&WriterMetrics::default());
        let text = metrics.render(&Snapshot { stored: None, ..snapshot() });
        for absent in ["rootvault_ha_", "rootvault_audit_checkpoint_age", "rootvault_outbox_pending"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        let signed = "1970-01-01T00:00:00.000Z".to_owned();
        let clustered = Snapshot {
            cluster: Some(Cluster { active: false, term: None }),
            stored: Some(Stored { checkpoint: Some((10, signed)), pending: Vec::new() }),
            now: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(90),
            ..snapshot()
        };
        let text = metrics.render(&clustered);
        assert_eq!(sample(&text, "rootvault_ha_active").as_deref(), Some("0"));
        assert!(!text.contains("rootvault_ha_term"), "{text}");
        assert_eq!(sample(&text, "rootvault_audit_checkpoint_age_seconds").as_deref(), Some("90.0"));
        assert_eq!(sample(&text, "rootvault_audit_events_after_checkpoint").as_deref(), Some("2"));
    }
}
