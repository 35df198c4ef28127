//! `[watch]`: the root sign-in watch's queue and rules
//! (docs/root-signin-watch.md). The watch runs only when a queue URL is
//! set, in the file or in `ROOTVAULT_WATCH_SQS_QUEUE_URL`.

use serde::Deserialize;

use super::{ConfigError, Env};
use crate::watch::WatchSettings;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWatch {
    sqs_queue_url: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    wait_time_seconds: Option<i64>,
    visibility_timeout_seconds: Option<i64>,
    max_message_bytes: Option<i64>,
    clock_skew_seconds: Option<i64>,
    rotation_window_hours: Option<i64>,
}

/// `value` if it lies in `range`, else a mistake naming `watch.<key>`.
fn within<T: TryFrom<i64>>(
    key: &str,
    value: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    default: T,
) -> Result<T, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    let bad = || ConfigError::new(&format!("watch.{key}"), format!("must be {} to {}", range.start(), range.end()));
    if !range.contains(&v) {
        return Err(bad());
    }
    T::try_from(v).map_err(|_| bad())
}

fn http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(()),
        _ => Err(ConfigError::new(key, "must be an http(s):// URL")),
    }
}

/// Validate `[watch]` with its environment overrides; `None` when no queue
/// is configured.
pub(super) fn parse_watch(file: Option<FileWatch>, env: &dyn Env) -> Result<Option<WatchSettings>, ConfigError> {
    let file = file.unwrap_or_default();
    let Some(queue_url) = env.var("ROOTVAULT_WATCH_SQS_QUEUE_URL").or(file.sqs_queue_url) else {
        return Ok(None);
    };
    http_url("watch.sqs_queue_url", &queue_url)?;
    let mut settings = WatchSettings::new(queue_url);
    if let Some(region) = file.region {
        if region.trim().is_empty() {
            return Err(ConfigError::new("watch.region", "must not be empty"));
        }
        settings.region = region;
    }
    settings.endpoint_url = env.var("ROOTVAULT_WATCH_ENDPOINT_URL").or(file.endpoint_url);
    if let Some(url) = &settings.endpoint_url {
        http_url("watch.endpoint_url", url)?;
    }
    settings.wait_time_seconds =
        within("wait_time_seconds", file.wait_time_seconds, 0..=20, WatchSettings::DEFAULT_WAIT_TIME_SECONDS)?;
    settings.visibility_timeout_seconds = within(
        "visibility_timeout_seconds",
        file.visibility_timeout_seconds,
        1..=43_200,
        WatchSettings::DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    )?;
    settings.max_message_bytes = within(
        "max_message_bytes",
        file.max_message_bytes,
        1_024..=1_048_576,
        WatchSettings::DEFAULT_MAX_MESSAGE_BYTES,
    )?;
    settings.clock_skew_seconds =
        within("clock_skew_seconds", file.clock_skew_seconds, 0..=3_600, WatchSettings::DEFAULT_CLOCK_SKEW_SECONDS)?;
    settings.rotation_window_hours = within(
        "rotation_window_hours",
        file.rotation_window_hours,
        1..=720,
        WatchSettings::DEFAULT_ROTATION_WINDOW_HOURS,
    )?;
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::tests::FakeEnv;

    fn parse(text: &str, env: &[(&'static str, &'static str)]) -> Result<Option<WatchSettings>, ConfigError> {
        let file: FileWatch = toml::from_str(text).unwrap();
        parse_watch(Some(file), &FakeEnv(env.iter().copied().collect()))
    }

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/111122223333/rootvault-root-signins";

    #[test]
    fn without_a_queue_the_watch_is_off_and_with_one_the_defaults_apply() {
        assert_eq!(parse("", &[]).unwrap(), None);
        assert_eq!(parse_watch(None, &FakeEnv(HashMap::new())).unwrap(), None);
        let on = parse(&format!("sqs_queue_url = \"{QUEUE}\""), &[]).unwrap().unwrap();
        assert_eq!(on, WatchSettings::new(QUEUE.into()));
        assert_eq!(on.region, "eu-west-1");
        let from_env = parse("", &[("ROOTVAULT_WATCH_SQS_QUEUE_URL", QUEUE)]).unwrap().unwrap();
        assert_eq!(from_env.queue_url, QUEUE);
    }

    #[test]
    fn every_key_is_read_and_the_environment_wins() {
        let text = format!(
            "sqs_queue_url = \"{QUEUE}\"\nregion = \"us-east-2\"\nendpoint_url = \"http://127.0.0.1:5000\"\n\
             wait_time_seconds = 1\nvisibility_timeout_seconds = 30\nmax_message_bytes = 2048\n\
             clock_skew_seconds = 0\nrotation_window_hours = 48\n"
        );
        let s = parse(&text, &[("ROOTVAULT_WATCH_ENDPOINT_URL", "http://127.0.0.1:6000")]).unwrap().unwrap();
        assert_eq!(s.region, "us-east-2");
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:6000"));
        assert_eq!((s.wait_time_seconds, s.visibility_timeout_seconds, s.max_message_bytes), (1, 30, 2048));
        assert_eq!((s.clock_skew_seconds, s.rotation_window_hours), (0, 48));
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            ("wait_time_seconds = 21", "watch.wait_time_seconds"),
            ("wait_time_seconds = -1", "watch.wait_time_seconds"),
            ("visibility_timeout_seconds = 0", "watch.visibility_timeout_seconds"),
            ("max_message_bytes = 10", "watch.max_message_bytes"),
            ("clock_skew_seconds = 3601", "watch.clock_skew_seconds"),
            ("rotation_window_hours = 0", "watch.rotation_window_hours"),
            ("region = \" \"", "watch.region"),
            ("endpoint_url = \"ftp://x\"", "watch.endpoint_url"),
        ];
        for (line, key) in cases {
            let err = parse(&format!("sqs_queue_url = \"{QUEUE}\"\n{line}"), &[]).unwrap_err();
            assert_eq!(err.key, key, "{line}: {err}");
        }
        assert_eq!(parse("sqs_queue_url = \"rootvault-root-signins\"", &[]).unwrap_err().key, "watch.sqs_queue_url");
    }
}
