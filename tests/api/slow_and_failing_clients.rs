//! Clients that fail to authenticate in bulk, call without credentials in
//! bulk, or send slowly: rate limited, aggregated in the audit log, and cut
//! off by read timeouts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_adjusted};

fn auth_fail_rows(app: &TestApp) -> usize {
    app.audit_events().into_iter().filter(|e| e["action"] == "auth.fail").count()
}

#[tokio::test]
async fn a_burst_of_bad_tokens_from_one_address_gets_429_and_a_bounded_number_of_audit_rows() {
    let app = spawn_app().await;
    let rows_before = app.audit_events().len();
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let reply =
            app.client.get(format!("{}/v1/accounts", app.base)).bearer_auth("not.a.token").send().await.unwrap();
        statuses.push(reply.status());
    }
    let unauthorized = statuses.iter().take_while(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(unauthorized, 20, "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(auth_fail_rows(&app), 1, "one failure in full; the rest are counted for a summary");
    assert_eq!(app.audit_events().len(), rows_before + 1, "429s write nothing");

    // The address is refused everywhere for the window, even with a good token.
    let ada = app.token("acme/ada", &["admin"]);
    assert_eq!(app.get("/v1/accounts", &ada).await.status, StatusCode::TOO_MANY_REQUESTS);
    // The counted failures are written as one summary when the window is closed.
    let owed = app.app.auth_failures.take_closed(Instant::now(), true);
    rootvault::http::failures::record(&app.app.vault, owed).await;
    let summary = app.last_event("auth.fail");
    assert_eq!(summary["details"]["count"], 19);
    assert_eq!(summary["http"]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn requests_without_credentials_are_limited_per_address() {
    let app = spawn_app().await;
    let mut limited_at = None;
    for i in 0..400 {
        let reply = app.client.get(format!("{}/v1/nowhere", app.base)).send().await.unwrap();
        if reply.status() == StatusCode::TOO_MANY_REQUESTS {
            limited_at = Some(i);
            break;
        }
    }
    assert_eq!(limited_at, Some(rootvault::http::ratelimit::ANONYMOUS_PER_IP as usize));
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "health probes are not limited");
}

/// Send `bytes` one at a time, `gap` apart, until the server closes the
/// connection; how long that took, or `None` if it never did within 5 s.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> (Option<Duration>, String) {
    let started = Instant::now();
    let mut answer = Vec::new();
    for byte in bytes.iter().cycle() {
        if started.elapsed() > Duration::from_secs(5) {
            return (None, String::from_utf8_lossy(&answer).into_owned());
        }
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(gap, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (Some(started.elapsed()), String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_sending_headers_byte_by_byte_is_cut_off_after_the_header_timeout() {
    let app =
        spawn_app_adjusted(|_, app| app.parts_mut().server.header_read_timeout = Duration::from_millis(800)).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let (closed, _) = trickle(&mut stream, b"X-Slow: a\r\n", Duration::from_millis(200)).await;
    assert!(closed.is_some(), "the connection was still open after 5 s");
}

#[tokio::test]
async fn a_client_sending_its_body_byte_by_byte_gets_an_error_after_the_body_timeout() {
    let app = spawn_app_adjusted(|_, app| app.parts_mut().server.body_read_timeout = Duration::from_millis(800)).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head = "POST /v1/public/links/AAAAAAAAAAAAAAAAAAAAAA/open HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (ended, answer) = trickle(&mut stream, b" ", Duration::from_millis(200)).await;
    assert!(ended.is_some(), "still reading after 5 s: {answer}");
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("body_timeout"), "{answer}");
}
