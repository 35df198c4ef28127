//! The label sets of the service's metrics, and how each value is bounded.
//!
//! Every label value comes from a closed list or from the code (a route
//! template, an error code), never from a request: a raw path carries
//! account ids and, for links, their keys, and a made-up method or path
//! would otherwise grow the series without end.

use prometheus_client::encoding::EncodeLabelSet;

use crate::audit::Outcome;
use crate::domain::ids::Half;
use crate::store::outbox::Channel;

/// Which route answered a request, as a metric sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// The matched route template, such as `/v1/requests/{id}/approve`.
    Template(&'a str),
    /// A standby passed the request to the active node, which counts it
    /// under its route.
    Forwarded,
    /// No route matched, or a limit refused the request before routing.
    Unmatched,
}

impl Route<'_> {
    /// The label value: the template itself, or one fixed word.
    fn value(self) -> String {
        match self {
            Route::Template(template) => template.to_owned(),
            Route::Forwarded => "forwarded".to_owned(),
            Route::Unmatched => "unmatched".to_owned(),
        }
    }
}

/// The methods the API and console use; anything else is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `rootvault_http_requests_total` and its latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

impl RequestLabels {
    pub(super) fn new(method: &axum::http::Method, route: Route<'_>, status: u16) -> Self {
        Self { method: method_label(method), route: route.value(), status }
    }
}

/// `rootvault_releases_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReleaseLabels {
    half: &'static str,
    outcome: &'static str,
}

impl ReleaseLabels {
    /// `half` as an audit event's target names it; anything but the two
    /// halves (there is nothing else) reads `unknown`.
    pub(super) fn new(half: Option<&str>, outcome: Outcome) -> Self {
        let half = half.and_then(|h| h.parse::<Half>().ok()).map_or("unknown", Half::as_str);
        Self { half, outcome: outcome.as_str() }
    }
}

/// `rootvault_refusals_total`: the error code, one of the service's fixed
/// codes (`crate::error::Error::code`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RefusalLabels {
    pub(super) reason: &'static str,
}

/// `rootvault_delivery_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct DeliveryLabels {
    channel: &'static str,
    /// `retry` (tried again later) or `gave_up` (marked failed).
    outcome: &'static str,
}

impl DeliveryLabels {
    pub(super) fn new(channel: Channel, gave_up: bool) -> Self {
        Self { channel: channel.as_str(), outcome: if gave_up { "gave_up" } else { "retry" } }
    }
}

/// `rootvault_outbox_pending_deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ChannelLabels {
    pub(super) channel: &'static str,
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn a_route_is_its_template_or_one_fixed_word() {
        let get = |route| RequestLabels::new(&Method::GET, route, 200).route;
        assert_eq!(get(Route::Template("/v1/accounts/{account_id}")), "/v1/accounts/{account_id}");
        assert_eq!(get(Route::Unmatched), "unmatched");
        assert_eq!(get(Route::Forwarded), "forwarded");
    }

    #[test]
    fn a_made_up_method_is_counted_as_other() {
        let made_up = Method::from_bytes(b"EXFILTRATE").unwrap();
        assert_eq!(RequestLabels::new(&made_up, Route::Unmatched, 405).method, "other");
        assert_eq!(RequestLabels::new(&Method::DELETE, Route::Unmatched, 404).method, "DELETE");
    }

    #[test]
    fn a_release_names_its_half_from_the_closed_list() {
        assert_eq!(ReleaseLabels::new(Some("mfa"), Outcome::Ok), ReleaseLabels { half: "mfa", outcome: "ok" });
        assert_eq!(
            ReleaseLabels::new(Some("password"), Outcome::Denied),
            ReleaseLabels { half: "password", outcome: "denied" }
        );
        assert_eq!(ReleaseLabels::new(Some("seed"), Outcome::Error).half, "unknown");
        assert_eq!(ReleaseLabels::new(None, Outcome::Ok).half, "unknown");
    }

    #[test]
    fn a_delivery_failure_says_whether_it_will_be_tried_again() {
        assert_eq!(DeliveryLabels::new(Channel::Email, false).outcome, "retry");
        assert_eq!(
            DeliveryLabels::new(Channel::Webhook, true),
            DeliveryLabels { channel: "webhook", outcome: "gave_up" }
        );
    }
}
