//! Chat payloads: Slack incoming webhooks (Block Kit), Microsoft Teams
//! workflow webhooks (an Adaptive Card) and a generic JSON shape, built
//! from the same [`Message`] as the e-mail.
//!
//! What people typed (a request's reason) is escaped for each format, so
//! it cannot turn into a link or a mention.

use serde_json::{Value, json};

use super::message::{Message, Severity};
use crate::config::ChatFormat;

/// Slack's limit on fields in one section block.
const SLACK_MAX_FIELDS: usize = 10;
/// Slack's limit on a header block's text.
const SLACK_HEADER_MAX: usize = 150;

/// The JSON body `format` expects for `message`.
pub fn body(format: ChatFormat, event: &str, message: &Message) -> Value {
    match format {
        ChatFormat::Slack => slack(message),
        ChatFormat::Teams => teams(message),
        ChatFormat::Generic => generic(event, message),
    }
}

/// `&`, `<` and `>` are Slack's control characters (links, mentions).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn slack(message: &Message) -> Value {
    let header: String = message.subject.chars().take(SLACK_HEADER_MAX).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(&message.summary)}}),
    ];
    for fields in message.facts.chunks(SLACK_MAX_FIELDS) {
        let fields: Vec<Value> = fields
            .iter()
            .map(|(label, value)| {
                json!({"type": "mrkdwn", "text": format!("*{}*\n{}", slack_escape(label), slack_escape(value))})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !message.steps.is_empty() {
        let steps: Vec<String> = message.steps.iter().map(|s| format!("• {}", slack_escape(s))).collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": steps.join("\n")}}));
    }
    if let Some((label, url)) = &message.link {
        let mut button = json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url});
        if message.severity == Severity::Alert {
            button["style"] = json!("danger");
        }
        blocks.push(json!({"type": "actions", "elements": [button]}));
    }
    // `text` is what notifications and clients without blocks show.
    json!({"text": slack_escape(&message.subject), "blocks": blocks})
}

/// Adaptive Card text is Markdown: escape what would make links or emphasis.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '`' | '<' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn teams(message: &Message) -> Value {
    let color = match message.severity {
        Severity::Alert => "Attention",
        Severity::Action => "Accent",
        Severity::Info => "Default",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": markdown_escape(&message.subject), "weight": "Bolder",
               "size": "Medium", "wrap": true, "color": color}),
        json!({"type": "TextBlock", "text": markdown_escape(&message.summary), "wrap": true}),
    ];
    if !message.facts.is_empty() {
        let facts: Vec<Value> = message
            .facts
            .iter()
            .map(|(label, value)| json!({"title": markdown_escape(label), "value": markdown_escape(value)}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    for step in &message.steps {
        body.push(json!({"type": "TextBlock", "text": format!("- {}", markdown_escape(step)), "wrap": true}));
    }
    let actions: Vec<Value> =
        message.link.iter().map(|(label, url)| json!({"type": "Action.OpenUrl", "title": label, "url": url})).collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

fn generic(event: &str, message: &Message) -> Value {
    let facts: serde_json::Map<String, Value> =
        message.facts.iter().map(|(label, value)| (label.clone(), Value::String(value.clone()))).collect();
    json!({
        "event": event,
        "severity": message.severity,
        "subject": message.subject,
        "summary": message.summary,
        "facts": facts,
        "steps": message.steps,
        "link": message.link.as_ref().map(|(_, url)| url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message::new(
            Severity::Alert,
            "[rootvault][ALERT] 1 (x): y".into(),
            "Said <!channel> & [click](http://evil)".into(),
        )
        .fact("Reason", "<http://evil|here>")
        .step("Check *it*")
        .link("Open", "https://vault.example/accounts/1".into())
    }

    #[test]
    fn slack_escapes_links_and_mentions_people_typed() {
        let body = body(ChatFormat::Slack, "root_signin.alert", &sample()).to_string();
        assert!(!body.contains("<!channel>") && !body.contains("<http://evil"), "{body}");
        assert!(body.contains("&lt;!channel&gt; &amp;"));
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["blocks"][0]["type"], "header");
        assert_eq!(value["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["style"], "danger");
    }

    #[test]
    fn teams_is_an_adaptive_card_with_escaped_markdown() {
        let value = body(ChatFormat::Teams, "root_signin.alert", &sample());
        let card = &value["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][1]["text"], r"Said \<!channel\> & \[click\]\(http://evil\)");
        assert_eq!(card["content"]["actions"][0]["url"], "https://vault.example/accounts/1");
    }

    #[test]
    fn generic_carries_the_fields_as_they_are() {
        let value = body(ChatFormat::Generic, "root_signin.alert", &sample());
        assert_eq!(value["event"], "root_signin.alert");
        assert_eq!(value["severity"], "alert");
        assert_eq!(value["facts"]["Reason"], "<http://evil|here>");
    }
}
