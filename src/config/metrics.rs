//! `[metrics]`: where `GET /metrics` is served (docs/metrics.md). By
//! default on the main listener, to provider admins' bearer tokens; with
//! `listen`, also without authentication on a separate address that only
//! the scraper should reach, and with `on_main_listener = false` there only.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{ConfigError, Env, parse_listen};

/// The environment variable that overrides `[metrics] listen`.
pub const METRICS_LISTEN_ENV: &str = "ROOTVAULT_METRICS_LISTEN";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMetrics {
    listen: Option<String>,
    on_main_listener: Option<bool>,
}

/// Where the metrics are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// A separate listener serving `GET /metrics` without authentication.
    pub listen: Option<SocketAddr>,
    /// Whether the main listener serves `GET /metrics` to provider admins.
    pub on_main_listener: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { listen: None, on_main_listener: true }
    }
}

/// Validate `[metrics]` for a service listening on `main`.
pub(super) fn parse_metrics(
    file: Option<FileMetrics>,
    main: SocketAddr,
    env: &dyn Env,
) -> Result<MetricsSettings, ConfigError> {
    let file = file.unwrap_or_default();
    let listen =
        env.var(METRICS_LISTEN_ENV).or(file.listen).map(|raw| parse_listen("metrics.listen", &raw)).transpose()?;
    // Port 0 picks a free port for each, so only a fixed port can clash.
    if listen.is_some_and(|addr| addr == main && addr.port() != 0) {
        return Err(ConfigError::new("metrics.listen", "must differ from listen: it is a listener of its own"));
    }
    let on_main_listener = file.on_main_listener.unwrap_or(true);
    if !on_main_listener && listen.is_none() {
        return Err(ConfigError::new(
            "metrics.on_main_listener",
            "false needs metrics.listen, or the metrics would be served nowhere",
        ));
    }
    Ok(MetricsSettings { listen, on_main_listener })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Vars(HashMap<&'static str, &'static str>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn parse(text: &str, env: &[(&'static str, &'static str)]) -> Result<MetricsSettings, ConfigError> {
        #[derive(Deserialize)]
        struct Wrapper {
            metrics: Option<FileMetrics>,
        }
        let w: Wrapper = toml::from_str(text).unwrap();
        parse_metrics(w.metrics, "127.0.0.1:8750".parse().unwrap(), &Vars(env.iter().copied().collect()))
    }

    #[test]
    fn without_the_section_admins_scrape_the_main_listener() {
        assert_eq!(parse("", &[]).unwrap(), MetricsSettings { listen: None, on_main_listener: true });
        assert_eq!(parse("[metrics]", &[]).unwrap(), MetricsSettings::default());
    }

    #[test]
    fn a_separate_listener_comes_from_the_file_or_the_environment() {
        let file = parse("[metrics]\nlisten = \"127.0.0.1:9464\"\non_main_listener = false", &[]).unwrap();
        assert_eq!(file, MetricsSettings { listen: Some("127.0.0.1:9464".parse().unwrap()), on_main_listener: false });
        let env = parse("[metrics]\nlisten = \"127.0.0.1:9464\"", &[(METRICS_LISTEN_ENV, "10.0.0.5:9100")]).unwrap();
        assert_eq!(env.listen, Some("10.0.0.5:9100".parse().unwrap()));
        assert!(env.on_main_listener);
    }

    #[test]
    fn mistakes_name_their_key() {
        let key = |text: &str| parse(text, &[]).unwrap_err().key;
        assert_eq!(key("[metrics]\nlisten = \"localhost\""), "metrics.listen");
        assert_eq!(key("[metrics]\nlisten = \"127.0.0.1:8750\""), "metrics.listen");
        assert_eq!(key("[metrics]\non_main_listener = false"), "metrics.on_main_listener");
    }
}
