//! `rootvault login`, `whoami` and `logout`: signing the command line in
//! through the org's identity provider (docs/signin.md).
//!
//! `login` listens on 127.0.0.1:0, sends the person's browser to the
//! service with a PKCE challenge and a random `state`, waits for the
//! browser to come back to its listener with a one-time code, and
//! exchanges code and verifier for a service token, which it stores.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

use super::client::{self, ServerArgs};
use super::credentials::{self, Stored};
use crate::auth::secret::{Secret, s256_challenge};
use crate::domain::session::cli_callback;

/// How long `login` waits for the person to finish signing in.
const WAIT_FOR_BROWSER: Duration = Duration::from_secs(300);

/// What the browser brought back.
type Answer = Result<String, String>;

#[derive(Clone)]
struct Listener {
    state: String,
    host: String,
    answers: mpsc::Sender<Answer>,
}

fn done_page(status: StatusCode, title: &str, text: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title><h1>{title}</h1><p>{text}</p></html>"
    );
    let csp = "default-src 'none'; frame-ancestors 'none'";
    (status, [(header::CONTENT_SECURITY_POLICY, csp), (header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

/// `GET /callback?code=…&state=…` on the loopback listener.
async fn callback(
    State(listener): State<Listener>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    // A page on another site cannot reach this listener under its own
    // name (DNS rebinding): only requests addressed to it count.
    if headers.get(header::HOST).and_then(|h| h.to_str().ok()) != Some(listener.host.as_str()) {
        return done_page(StatusCode::BAD_REQUEST, "Refused", "This request was not addressed to rootvault login.");
    }
    let state_ok = query.get("state").is_some_and(|s| bool::from(s.as_bytes().ct_eq(listener.state.as_bytes())));
    if !state_ok {
        // Not this login's answer: ignore it and keep waiting.
        return done_page(StatusCode::BAD_REQUEST, "Refused", "This answer does not belong to the waiting sign-in.");
    }
    let answer = match (query.get("code"), query.get("error")) {
        (Some(code), _) => Ok(code.clone()),
        (None, Some(error)) => Err(crate::auth::oidc::error_code(error)),
        (None, None) => Err("no code".to_owned()),
    };
    let ok = answer.is_ok();
    let _ = listener.answers.send(answer).await;
    if ok {
        done_page(StatusCode::OK, "Signed in", "rootvault login has what it needs. You can close this tab.")
    } else {
        done_page(StatusCode::BAD_REQUEST, "Sign-in failed", "Go back to the terminal for the reason.")
    }
}

fn open_browser(url: &str) -> bool {
    ["xdg-open", "open"].iter().any(|opener| {
        std::process::Command::new(opener)
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

pub fn login(server: &ServerArgs, org: Option<&str>, no_browser: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (code, verifier) = runtime.block_on(async {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on 127.0.0.1")?;
        let port = socket.local_addr()?.port();
        let (verifier, state) = (Secret::random(), Secret::random());
        let (answers, mut received) = mpsc::channel(1);
        let listener = Listener { state: state.expose().to_owned(), host: format!("127.0.0.1:{port}"), answers };
        let app = Router::new().route("/callback", get(callback)).with_state(listener);
        let serving = tokio::spawn(async move { axum::serve(socket, app).await });

        let mut start = url::Url::parse(&format!("{}/v1/auth/cli/start", server.addr.trim_end_matches('/')))
            .with_context(|| format!("{} is not a URL", server.addr))?;
        {
            let mut q = start.query_pairs_mut();
            if let Some(org) = org {
                q.append_pair("org", org);
            }
            q.append_pair("port", &port.to_string())
                .append_pair("code_challenge", &s256_challenge(verifier.expose()))
                .append_pair("state", state.expose())
                .append_pair("redirect_uri", &cli_callback(port));
        }
        println!("Open this URL in a browser to sign in:\n\n  {start}\n");
        if !no_browser && !open_browser(start.as_str()) {
            println!("(no browser could be opened here: open the URL yourself)");
        }
        println!("Waiting up to {} minutes for the sign-in…", WAIT_FOR_BROWSER.as_secs() / 60);
        let answer = tokio::time::timeout(WAIT_FOR_BROWSER, received.recv()).await;
        serving.abort();
        match answer {
            Ok(Some(Ok(code))) => Ok::<_, anyhow::Error>((code, verifier)),
            Ok(Some(Err(error))) => bail!("the sign-in was refused ({error})"),
            Ok(None) | Err(_) => bail!("no sign-in arrived within {} minutes", WAIT_FOR_BROWSER.as_secs() / 60),
        }
    })?;
    let answer =
        client::post(server, "/v1/auth/cli/token", None, &json!({"code": code, "code_verifier": verifier.expose()}))?;
    let text = |k: &str| answer[k].as_str().unwrap_or_default().to_owned();
    let stored = Stored { token: text("token"), principal: text("principal"), expires_at: text("expires_at") };
    if stored.token.is_empty() {
        bail!("the server's answer carries no token");
    }
    let (principal, expires_at) = (stored.principal.clone(), stored.expires_at.clone());
    credentials::store(&server.addr, stored)?;
    println!("Signed in to {} as {principal} ({}) until {expires_at}.", server.addr, roles(&answer["roles"]));
    Ok(())
}

fn roles(value: &Value) -> String {
    let names: Vec<&str> = value.as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if names.is_empty() { "no roles".to_owned() } else { names.join(", ") }
}

pub fn whoami(server: &ServerArgs, json_out: bool) -> anyhow::Result<()> {
    let answer = client::get(server, "/v1/auth/whoami", &client::token(server)?)?;
    if json_out {
        println!("{answer}");
    } else {
        let signed_in = answer["auth_time"].as_str().unwrap_or("at an unknown time");
        println!(
            "{} ({}), signed in {signed_in}",
            answer["principal"].as_str().unwrap_or("?"),
            roles(&answer["roles"])
        );
    }
    Ok(())
}

pub fn logout(server: &ServerArgs) -> anyhow::Result<()> {
    let Some(entry) = credentials::stored(&server.addr)? else {
        bail!("not signed in to {}: nothing to sign out of", server.addr);
    };
    let ended = client::post(server, "/v1/auth/logout", Some(&entry.token), &json!({}));
    credentials::forget(&server.addr)?;
    match ended {
        Ok(_) => println!("Signed out of {}; the token no longer works.", server.addr),
        Err(e) => println!("Forgot the sign-in for {} (the server said: {e}).", server.addr),
    }
    Ok(())
}
