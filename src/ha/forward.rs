//! Standby nodes forward API and console requests to the active node
//! (DESIGN §17), and the active node believes what a standby says about the
//! client only with a proof (`proof`).
//!
//! Two steps:
//!
//! - [`accept`], first thing on every node: a request carrying the
//!   forwarding header is refused with 503 `no_active_node` on a node that
//!   is not active (it was meant for an active node: forwarding it again
//!   could loop), and with 401 (an `auth.fail` event, counted against the
//!   sender's address) when its proof does not hold. A proven request
//!   continues as if the client had connected here: its `ConnectInfo` is
//!   the client's address, so rate limits, the failure budget and the
//!   audit log's `http.ip` see the client, and it keeps the standby's
//!   request id.
//! - [`to_active`], inside the request-id middleware, on a standby:
//!   everything but what each node answers for itself ([`stays_local`]) is
//!   sent to the active node's `api_addr` (method, path and query, the
//!   headers less hop-by-hop ones, the body up to the largest body any
//!   route takes) and the answer passed back (status, headers less
//!   hop-by-hop ones, the body streamed). No active node known: 503
//!   `no_active_node` with `Retry-After`.
//!
//! Neither ever logs a header: they carry tokens and session cookies.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::proof::{self, Claim, HEADER};
use super::{ActiveNode, Role};
use crate::app::App;
use crate::config::HaSettings;
use crate::error::Error;
use crate::http::extract::{Meta, RequestId};

/// Paths every node answers itself: health and readiness are per node, so
/// is the seal, and the cluster's status is wanted most when no node leads.
pub fn stays_local(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/v1/sys/ha-status" | "/v1/sys/seal-status" | "/v1/sys/unseal")
}

/// Headers that concern one connection, not the request (RFC 9110 §7.6.1),
/// and those the forwarder sets itself.
const HOP_BY_HOP: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    // The length is recomputed; `Expect` was answered by this node.
    "content-length",
    "expect",
];

/// `headers` less hop-by-hop ones, those the `Connection` header names, and
/// the forwarding header (which only the forwarder sets).
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str) || name_str == HEADER || named.iter().any(|n| n == name_str) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// How long the active node may take to connect to, and between two reads.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP client standbys forward with, and the secret of the proofs.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    secret: Option<crate::config::ClusterSecret>,
}

impl Forwarder {
    /// A client that follows no redirect (the caller gets them), uses no
    /// proxy from the environment, and trusts `[ha] ca_file` besides the
    /// public roots.
    pub fn new(settings: &HaSettings) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT);
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read [ha] ca_file: {e}"))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| "[ha] ca_file is not PEM".to_owned())?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| format!("cannot build the forwarding client: {e}"))?;
        Ok(Self { client, secret: settings.cluster_secret.clone() })
    }

    fn secret(&self) -> Option<&[u8]> {
        self.secret.as_ref().map(|s| s.expose().as_bytes())
    }
}

fn peer(req: &Request) -> SocketAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0)
}

fn target(req: &Request) -> String {
    req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned())
}

/// Judge a request that says a node forwarded it (see the module doc):
/// the request to serve, with the client's address and the standby's
/// request id when the proof holds, or the refusal to answer with. The
/// request-id middleware calls it first thing, so a refusal is logged
/// and carries an id like any answer.
pub async fn accept(app: &App, mut req: Request) -> Result<Request, Response> {
    let Some(value) = req.headers().get(HEADER) else { return Ok(req) };
    if !app.ha.role().is_active() {
        return Err(Error::NoActiveNode.into_response());
    }
    let verdict = match (app.ha.forwarder().secret(), value.to_str()) {
        (Some(secret), Ok(value)) => {
            proof::verify(secret, req.method().as_str(), &target(&req), value, crate::vault::unix_now())
        }
        _ => Err(proof::ProofError::Malformed),
    };
    match verdict {
        Ok(Claim { client, request_id, .. }) => {
            req.extensions_mut().insert(ConnectInfo(client));
            req.extensions_mut().insert(RequestId(request_id));
            Ok(req)
        }
        Err(e) => {
            tracing::warn!(peer = %peer(&req).ip(), problem = e.as_str(), "refused a request that claims a node forwarded it");
            let (mut parts, _) = req.into_parts();
            let http = match Meta::from_request_parts(&mut parts, app).await {
                Ok(Meta(http)) => http,
                Err(e) => return Err(e.into_response()),
            };
            let refusal = crate::http::extract::auth_failed(app, &parts, &http, "invalid forwarding proof", None).await;
            Err(refusal.into_response())
        }
    }
}

/// Marks a response the active node produced, for the request log.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded;

/// Middleware, on a standby: send the request to the active node (see the
/// module doc).
pub async fn to_active(State(app): State<App>, req: Request, next: Next) -> Response {
    if stays_local(req.uri().path()) {
        return next.run(req).await;
    }
    match app.ha.role() {
        Role::Active { .. } => next.run(req).await,
        // Meant for an active node, or the node named is this one (it lost
        // the lease but the row still names it): forwarding would loop.
        Role::Standby { active: Some(active) }
            if !req.headers().contains_key(HEADER) && active.instance != *app.ha.instance() =>
        {
            match forward(&app, &active, req).await {
                Ok(mut response) => {
                    response.extensions_mut().insert(Forwarded);
                    response
                }
                Err(e) => e.into_response(),
            }
        }
        Role::Standby { .. } => Error::NoActiveNode.into_response(),
    }
}

async fn forward(app: &App, to: &ActiveNode, req: Request) -> Result<Response, Error> {
    let forwarder = app.ha.forwarder();
    let Some(secret) = forwarder.secret() else {
        tracing::error!("this standby has no [ha] cluster_secret: it cannot forward requests");
        return Err(Error::NoActiveNode);
    };
    let claim = Claim {
        client: peer(&req),
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |r| r.0.clone()),
        issued_at: crate::vault::unix_now(),
    };
    let target = target(&req);
    let deadline = req.extensions().get::<crate::http::server::BodyReadTimeout>().map(|t| t.0);
    let (parts, body) = req.into_parts();
    let body = read_body(body, crate::http::MAX_FORWARD_BODY_BYTES, deadline).await?;
    let mut headers = end_to_end(&parts.headers);
    let proof = proof::sign(secret, parts.method.as_str(), &target, &claim);
    headers.insert(
        HeaderName::from_static(HEADER),
        HeaderValue::from_str(&proof)
            .map_err(|_| Error::Internal("a forwarding proof is not a header value".into()))?,
    );
    let url = format!("{}{target}", to.api_addr.trim_end_matches('/'));
    let sent = forwarder.client.request(parts.method, url).headers(headers).body(body).send().await;
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(e) if e.is_connect() => {
            tracing::warn!(active = %to.node, "the active node cannot be reached");
            return Err(Error::NoActiveNode);
        }
        // The URL may carry a link id: never in a log line.
        Err(e) => return Err(Error::Unavailable(format!("forwarding to {}: {}", to.node, e.without_url()))),
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = upstream.status();
    *response.headers_mut() = end_to_end(upstream.headers());
    *response.body_mut() = Body::from_stream(upstream.bytes_stream());
    Ok(response)
}

/// The request body, refused past `limit` bytes or `deadline`, as the
/// routes' own extractors would.
async fn read_body(body: Body, limit: usize, deadline: Option<Duration>) -> Result<Bytes, Error> {
    let collect = async {
        let mut stream = body.into_data_stream();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| Error::malformed("unreadable_body", "the request body could not be read"))?;
            if out.len() + chunk.len() > limit {
                return Err(Error::PayloadTooLarge);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    };
    match deadline {
        Some(deadline) => tokio::time::timeout(deadline, collect)
            .await
            .map_err(|_| Error::malformed("body_timeout", "the request body did not arrive in time"))?,
        None => collect.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_not_passed_on() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("cookie", "rv_session=s"),
            ("content-type", "application/json"),
            ("host", "vault.example"),
            ("connection", "keep-alive, X-Private-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-private-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("content-length", "12"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("expect", "100-continue"),
            (HEADER, "v1;forged"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        let kept = end_to_end(&headers);
        let mut names: Vec<&str> = kept.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["authorization", "content-type", "cookie", "host", "set-cookie"]);
        assert_eq!(kept.get_all("set-cookie").iter().count(), 2, "repeated headers stay repeated");
    }

    #[test]
    fn health_readiness_the_seal_and_the_clusters_status_stay_local() {
        for path in ["/healthz", "/readyz", "/v1/sys/ha-status", "/v1/sys/seal-status", "/v1/sys/unseal", "/metrics"] {
            assert!(stays_local(path), "{path}");
        }
        for path in ["/", "/v1/accounts", "/v1/sys/backup", "/v1/sys/notifications", "/l/abc", "/readyz/x"] {
            assert!(!stays_local(path), "{path}");
        }
    }

    #[tokio::test]
    async fn a_body_past_the_limit_or_the_deadline_is_refused() {
        let body = || Body::from(vec![b'x'; 10]);
        assert_eq!(read_body(body(), 10, None).await.unwrap().len(), 10);
        assert!(matches!(read_body(body(), 9, None).await, Err(Error::PayloadTooLarge)));
        let (_tx, never) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stalled = Body::from_stream(tokio_stream_of(never));
        let e = read_body(stalled, 10, Some(Duration::from_millis(10))).await.unwrap_err();
        assert_eq!(e.code(), "body_timeout");
    }

    fn tokio_stream_of<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
