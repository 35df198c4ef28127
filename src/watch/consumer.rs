//! The watch's loop: long-poll the queue, record each message through the
//! vault, and delete it only once its record is durable.
//!
//! A message the vault could not record (sealed, audit log unavailable or
//! found altered) is left alone: it becomes visible again after the
//! visibility timeout, and after five tries the queue's redrive policy moves
//! it to the dead-letter queue. While the vault cannot record anything the
//! loop receives nothing, so messages wait in the queue instead of using up
//! their tries. Message bodies are never logged: they are untrusted text.

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::Message;

use super::WatchSettings;
use crate::vault::Vault;

/// Most messages one receive asks for (SQS's limit).
const BATCH: i32 = 10;
/// How often a sealed vault is looked at again.
const SEAL_POLL: Duration = Duration::from_secs(1);
/// The first wait after a failed receive; each further failure doubles it.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// The longest wait between two receives that fail.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The wait after a failed receive that followed a wait of `current`.
fn next_backoff(current: Duration) -> Duration {
    current.saturating_mul(2).min(BACKOFF_MAX)
}

/// An SQS client for the watch's queue.
pub async fn client(settings: &WatchSettings) -> aws_sdk_sqs::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(settings.region.clone()));
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    aws_sdk_sqs::Client::new(&loader.load().await)
}

/// Run the watch until the task is dropped.
pub async fn run(vault: Vault, settings: WatchSettings) {
    let sqs = client(&settings).await;
    tracing::info!(queue = %settings.queue_url, "root sign-in watch started");
    let mut backoff = BACKOFF_START;
    loop {
        if !vault.accepts_watch_events() {
            tokio::time::sleep(SEAL_POLL).await;
            continue;
        }
        let received = sqs
            .receive_message()
            .queue_url(&settings.queue_url)
            .max_number_of_messages(BATCH)
            .wait_time_seconds(settings.wait_time_seconds)
            .visibility_timeout(settings.visibility_timeout_seconds)
            .send()
            .await;
        let messages = match received {
            Ok(out) => {
                backoff = BACKOFF_START;
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                tracing::warn!(
                    error = %DisplayErrorContext(&e),
                    retry_in_ms = backoff.as_millis() as u64,
                    "receiving from the root sign-in queue failed"
                );
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
                continue;
            }
        };
        for message in messages {
            handle(&vault, &sqs, &settings.queue_url, message).await;
        }
    }
}

/// Record one message; delete it only when that succeeded.
async fn handle(vault: &Vault, sqs: &aws_sdk_sqs::Client, queue_url: &str, message: Message) {
    let message_id = message.message_id().unwrap_or_default();
    match vault.record_watch_message(message.body().unwrap_or_default(), message_id).await {
        Ok(outcome) => {
            tracing::debug!(message_id, ?outcome, "root sign-in message handled");
            let Some(receipt) = message.receipt_handle() else {
                tracing::warn!(message_id, "a received message has no receipt handle; it cannot be deleted");
                return;
            };
            if let Err(e) = sqs.delete_message().queue_url(queue_url).receipt_handle(receipt).send().await {
                // It comes back and is then a duplicate (or rejected again).
                tracing::warn!(message_id, error = %DisplayErrorContext(&e), "deleting a recorded message failed");
            }
        }
        Err(e) => {
            tracing::warn!(
                message_id,
                code = e.code(),
                "a root sign-in message was not recorded; it stays in the queue"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_receives_back_off_from_one_second_doubling_to_thirty() {
        let waits: Vec<u64> = std::iter::successors(Some(BACKOFF_START), |d| Some(next_backoff(*d)))
            .take(7)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }
}
