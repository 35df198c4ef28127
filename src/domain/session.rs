//! The rules of people's sign-ins: how long a session lives, how recent a
//! sign-in a release needs (step-up), where a finished sign-in may send the
//! browser, and which callback `rootvault login` may ask for.
//!
//! Times are Unix seconds; the caller supplies the clock.

/// Where a stored session stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Past its absolute lifetime.
    Expired,
    /// Signed out (or replaced) on purpose.
    Ended,
}

impl SessionState {
    /// Why a session that is not active ended, in words for the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::Idle => "session idle for too long",
            SessionState::Expired => "session past its absolute lifetime",
            SessionState::Ended => "session ended",
        }
    }
}

/// The times that decide a session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

impl SessionTimes {
    /// The state at `now`. `idle_timeout` is `None` for sessions that have
    /// only an absolute lifetime (a CLI token is used in bursts).
    pub fn state(&self, idle_timeout: Option<i64>, now: i64) -> SessionState {
        if self.ended_at.is_some() {
            SessionState::Ended
        } else if now >= self.expires_at {
            SessionState::Expired
        } else if idle_timeout.is_some_and(|idle| now - self.last_seen_at >= idle) {
            SessionState::Idle
        } else {
            SessionState::Active
        }
    }
}

/// Whether a sign-in at `auth_time` is recent enough for a release at
/// `now`. An unknown sign-in time is never recent enough; one in the
/// future (clock skew beyond a minute) neither.
pub fn recent_enough(auth_time: Option<i64>, max_age: i64, now: i64) -> bool {
    const SKEW: i64 = 60;
    auth_time.is_some_and(|t| t <= now + SKEW && now - t <= max_age)
}

/// The local path a sign-in may return the browser to: an absolute path on
/// this service, never another host (`//host`, `/\host`), never a URL.
/// Anything else returns to the console's start page.
pub fn safe_return_to(requested: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(path) = requested else { return HOME.to_owned() };
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic());
    if local { path.to_owned() } else { HOME.to_owned() }
}

/// The only callback `rootvault login` may be sent to: its own listener
/// on the IPv4 loopback address (RFC 8252 §7.3).
pub fn cli_callback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// Whether `challenge` is an S256 PKCE challenge: the base64url of 32
/// bytes, 43 characters (RFC 7636 §4.2).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a CLI sign-in's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliStartError {
    #[error("port must be a number from 1024 to 65535")]
    Port,
    #[error("code_challenge must be an S256 PKCE challenge (43 base64url characters)")]
    Challenge,
    #[error("state must be 16 to 128 URL-safe characters")]
    State,
    #[error(
        "the callback must be http://127.0.0.1:PORT/callback on this machine; anything else could hand the sign-in to another host"
    )]
    Callback,
}

/// The CLI's loopback port, if `port` is one it may listen on (not a
/// privileged one).
pub fn cli_port(port: u32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p >= 1024)
}

/// Check the parameters `rootvault login` starts with.
pub fn check_cli_start(
    port: u32,
    challenge: &str,
    state: &str,
    redirect_uri: Option<&str>,
) -> Result<u16, CliStartError> {
    let port = cli_port(port).ok_or(CliStartError::Port)?;
    let url_safe = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !is_s256_challenge(challenge) {
        return Err(CliStartError::Challenge);
    }
    if !(16..=128).contains(&state.len()) || !url_safe(state) {
        return Err(CliStartError::State);
    }
    if redirect_uri.is_some_and(|uri| uri != cli_callback(port)) {
        return Err(CliStartError::Callback);
    }
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_past_its_lifetime_or_signed_out() {
        let times = SessionTimes { last_seen_at: 1_000, expires_at: 10_000, ended_at: None };
        assert_eq!(times.state(Some(1_800), 2_799), SessionState::Active);
        assert_eq!(times.state(Some(1_800), 2_800), SessionState::Idle);
        assert_eq!(times.state(None, 9_999), SessionState::Active);
        assert_eq!(times.state(None, 10_000), SessionState::Expired);
        let ended = SessionTimes { ended_at: Some(1_500), ..times };
        assert_eq!(ended.state(Some(1_800), 1_600), SessionState::Ended);
    }

    #[test]
    fn releases_need_a_known_and_recent_sign_in() {
        assert!(recent_enough(Some(1_000), 900, 1_900));
        assert!(!recent_enough(Some(1_000), 900, 1_901));
        assert!(!recent_enough(None, 900, 1_000));
        assert!(recent_enough(Some(1_050), 900, 1_000), "a minute of skew is tolerated");
        assert!(!recent_enough(Some(1_100), 900, 1_000));
    }

    #[test]
    fn sign_ins_return_only_to_local_paths() {
        assert_eq!(safe_return_to(Some("/requests/abc?x=1")), "/requests/abc?x=1");
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "requests", "/a b", ""] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn the_cli_callback_is_only_ever_the_loopback_listener() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let state = "0123456789abcdef";
        assert_eq!(check_cli_start(49152, challenge, state, None), Ok(49152));
        assert_eq!(check_cli_start(49152, challenge, state, Some("http://127.0.0.1:49152/callback")), Ok(49152));
        for uri in [
            "http://evil.example:49152/callback",
            "http://localhost:49152/callback",
            "http://127.0.0.1:49153/callback",
            "http://127.0.0.1.evil.example:49152/callback",
        ] {
            assert_eq!(check_cli_start(49152, challenge, state, Some(uri)), Err(CliStartError::Callback), "{uri}");
        }
        assert_eq!(check_cli_start(80, challenge, state, None), Err(CliStartError::Port));
        assert_eq!(check_cli_start(70_000, challenge, state, None), Err(CliStartError::Port));
        assert_eq!(check_cli_start(49152, "short", state, None), Err(CliStartError::Challenge));
        assert_eq!(check_cli_start(49152, challenge, "x", None), Err(CliStartError::State));
    }
}
