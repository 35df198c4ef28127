//! The HTTP/1.1 server loop, with limits on slow clients, for the API and
//! for the separate metrics listener.
//!
//! A client that trickles its headers (slowloris) is cut off after
//! `header_read_timeout`; one that trickles its body fails the request
//! after `body_read_timeout` (the body reads as unreadable, 400). Without
//! them a few hundred such clients would hold every connection. SIGTERM
//! stops accepting, lets connections in flight finish, then writes the
//! authentication-failure counts the audit log still owes.

use std::future::Future;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Layer;

use crate::app::App;

/// How long clients may take to send what they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// From the connection's (or the previous response's) start to the end
    /// of the request headers.
    pub header_read_timeout: Duration,
    /// For the whole request body.
    pub body_read_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(10), body_read_timeout: Duration::from_secs(30) }
    }
}

/// The time a request body may take to arrive in full, as a request
/// extension for `extract::RawJson`. A total, not an idle timeout: a body
/// trickled a byte at a time is still cut off.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// Serve `app` on `listener` until `shutdown` resolves, then finish the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, super::router(app.clone()), app.server, shutdown).await;
    let owed = app.auth_failures.take_closed(std::time::Instant::now(), true);
    super::failures::record(&app.vault, owed).await;
    Ok(())
}

/// Serve `app`'s metrics alone on `listener` (`[metrics] listen`), with the
/// same limits on slow clients, until `shutdown` resolves.
pub async fn serve_metrics(listener: TcpListener, app: App, shutdown: impl Future<Output = ()> + Send + 'static) {
    let settings = app.server;
    serve_router(listener, super::metrics::listener_routes(app), settings, shutdown).await;
}

async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A failed accept (e.g. out of file descriptors) concerns
                // that connection only; keep serving the others.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The peer address reaches handlers as axum's `ConnectInfo`; the
        // body deadline reaches the body extractor.
        let service = Layer::layer(&axum::Extension(ConnectInfo(peer)), router.clone());
        let service = TowerToHyperService::new(Layer::layer(
            &axum::Extension(BodyReadTimeout(settings.body_read_timeout)),
            service,
        ));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, bad request line).
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
