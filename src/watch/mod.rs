//! The root sign-in watch (DESIGN §15; docs/root-signin-watch.md): an SQS
//! consumer of the EventBridge events of the watched accounts' root users.
//!
//! The rules (what a message says, how a sign-in is classified) are in
//! [`crate::domain::root_signin`]; recording a message is
//! [`crate::vault::Vault::record_watch_message`]; this module holds the
//! settings (`[watch]`) and the loop that receives, records and deletes.

pub mod consumer;

use crate::domain::root_signin::{Tolerances, WatchRules};

/// `[watch]`: where the queue is and how the watch reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    /// The queue the watch's EventBridge rule feeds (`RootSigninQueueUrl`).
    pub queue_url: String,
    pub region: String,
    /// Another SQS endpoint (an emulator).
    pub endpoint_url: Option<String>,
    /// Long-polling wait of one receive, 0 to 20.
    pub wait_time_seconds: i32,
    /// How long a received message stays hidden before it comes back.
    pub visibility_timeout_seconds: i32,
    /// Larger messages are rejected unread.
    pub max_message_bytes: usize,
    /// How far AWS's clock and the service's may be apart.
    pub clock_skew_seconds: i64,
    /// How long after a rotation candidate a password change is expected.
    pub rotation_window_hours: i64,
}

impl WatchSettings {
    pub const DEFAULT_WAIT_TIME_SECONDS: i32 = 20;
    pub const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: i32 = 60;
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
    pub const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 120;
    pub const DEFAULT_ROTATION_WINDOW_HOURS: i64 = 24;

    /// The defaults for `queue_url`, in the region its host names.
    pub fn new(queue_url: String) -> Self {
        Self {
            region: region_of(&queue_url),
            queue_url,
            endpoint_url: None,
            wait_time_seconds: Self::DEFAULT_WAIT_TIME_SECONDS,
            visibility_timeout_seconds: Self::DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            clock_skew_seconds: Self::DEFAULT_CLOCK_SKEW_SECONDS,
            rotation_window_hours: Self::DEFAULT_ROTATION_WINDOW_HOURS,
        }
    }

    /// What the vault's rules need of these settings.
    pub fn rules(&self) -> WatchRules {
        WatchRules {
            max_message_bytes: self.max_message_bytes,
            tolerances: Tolerances {
                clock_skew_seconds: self.clock_skew_seconds,
                rotation_window_seconds: self.rotation_window_hours.saturating_mul(3600),
            },
        }
    }
}

/// The region of a queue URL whose host is `sqs.<region>.amazonaws.com`,
/// else `us-east-1`.
pub fn region_of(queue_url: &str) -> String {
    url::Url::parse(queue_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .and_then(|host| {
            let region = host.strip_prefix("sqs.")?.strip_suffix(".amazonaws.com")?.to_owned();
            let plausible =
                !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            plausible.then_some(region)
        })
        .unwrap_or_else(|| "us-east-1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_the_queue_host_or_defaults_to_us_east_1() {
        assert_eq!(region_of("https://sqs.eu-west-1.amazonaws.com/111122223333/rootvault-root-signins"), "eu-west-1");
        assert_eq!(region_of("http://127.0.0.1:5000/123456789012/q"), "us-east-1");
        assert_eq!(region_of("https://sqs.amazonaws.com/1/q"), "us-east-1");
        assert_eq!(region_of("not a url"), "us-east-1");
        let s = WatchSettings::new("https://sqs.ap-southeast-2.amazonaws.com/1/q".into());
        assert_eq!(
            (s.region.as_str(), s.wait_time_seconds, s.rules().tolerances.rotation_window_seconds),
            ("ap-southeast-2", 20, 86_400)
        );
    }
}
