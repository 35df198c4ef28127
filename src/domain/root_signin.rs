//! The root sign-in watch's rules (DESIGN §15): what an SQS message from
//! the watch's EventBridge rule says, and how a root sign-in is classified.
//!
//! [`parse`] turns a message body (an EventBridge envelope around a
//! CloudTrail record) into a [`RootEvent`], tells a message that is not
//! about the root user apart ([`Parsed::NotRoot`]: ignored), or rejects it
//! with a [`RejectReason`]. It never panics, whatever the input. [`classify`]
//! decides `expected`, `unexplained` or `failed` from the event and the
//! custody evidence the vault hands it. Times are Unix seconds; nothing here
//! reads the clock, the database or the network.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::ids::AccountId;

/// The detail-types the watch's rule forwards. AWS spells the console
/// sign-in one both ways; the root user's password and e-mail changes may
/// also arrive as API calls.
pub const DETAIL_TYPES: [&str; 3] =
    ["AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail", "AWS API Call via CloudTrail"];

/// A CloudTrail event id (`detail.eventID`): what makes a delivery a
/// duplicate of one already recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// CloudTrail ids are UUIDs; anything of 1-128 letters, digits, `-`, `_`,
    /// `.` or `:` is taken, the rest makes the message malformed.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The root user's events the watch records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    ConsoleLogin,
    PasswordRecoveryRequested,
    PasswordRecoveryCompleted,
    PasswordUpdated,
    EmailUpdated,
}

impl EventName {
    pub const ALL: [EventName; 5] = [
        EventName::ConsoleLogin,
        EventName::PasswordRecoveryRequested,
        EventName::PasswordRecoveryCompleted,
        EventName::PasswordUpdated,
        EventName::EmailUpdated,
    ];

    /// CloudTrail's `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::ConsoleLogin => "ConsoleLogin",
            EventName::PasswordRecoveryRequested => "PasswordRecoveryRequested",
            EventName::PasswordRecoveryCompleted => "PasswordRecoveryCompleted",
            EventName::PasswordUpdated => "PasswordUpdated",
            EventName::EmailUpdated => "EmailUpdated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// Whether the sign-in (or change) succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    Failure,
}

impl LoginOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [LoginOutcome::Success, LoginOutcome::Failure].into_iter().find(|o| o.as_str() == s)
    }
}

/// One root event, as far as the watch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootEvent {
    pub event_id: EventId,
    /// The account whose root user it was.
    pub account: AccountId,
    pub event_name: EventName,
    /// When it happened (CloudTrail's `eventTime`), Unix seconds.
    pub event_time: i64,
    /// An IP address or an AWS service name; anything else is dropped.
    pub source_ip: Option<String>,
    /// `additionalEventData.MFAUsed`: `Yes` or `No`; absent when not said.
    pub mfa_used: Option<bool>,
    pub outcome: LoginOutcome,
    /// `awsRegion`, when it looks like a region name.
    pub region: Option<String>,
}

/// Why a message is recorded as `watch.reject` (and deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Not the JSON of a root event from AWS, or missing what one needs.
    Malformed,
    /// Larger than `[watch] max_message_bytes`; not even parsed.
    Oversized,
    /// It names an account the service does not hold.
    UnknownAccount,
    /// It names an account whose custody ended (handed back or closed).
    NotInCustody,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Oversized => "oversized",
            RejectReason::UnknownAccount => "unknown_account",
            RejectReason::NotInCustody => "not_in_custody",
        }
    }
}

/// What a message body turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Root(RootEvent),
    /// A well-formed event of another identity (an IAM user, a role) or of
    /// another event name: not the watch's business. Deleted, not audited.
    NotRoot,
    /// Rejected, naming the AWS account when the message did.
    Rejected {
        reason: RejectReason,
        account: Option<AccountId>,
    },
}

fn malformed(account: Option<AccountId>) -> Parsed {
    Parsed::Rejected { reason: RejectReason::Malformed, account }
}

/// A string field of `object`, if present and a string.
fn text<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// The account the record names: `detail.recipientAccountId`, else the
/// root user's `detail.userIdentity.accountId`, else the envelope's
/// `account`. The first one present must be an account id.
fn named_account(envelope: &Map<String, Value>, detail: &Map<String, Value>) -> Result<AccountId, ()> {
    let identity = detail.get("userIdentity").and_then(Value::as_object);
    let raw = text(detail, "recipientAccountId")
        .or_else(|| identity.and_then(|i| text(i, "accountId")))
        .or_else(|| text(envelope, "account"))
        .ok_or(())?;
    raw.parse().map_err(|_| ())
}

/// An RFC 3339 time as Unix seconds.
fn unix_time(raw: &str) -> Option<i64> {
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// `sourceIPAddress` is an address, or the name of the AWS service that
/// acted (`signin.amazonaws.com`, `AWS Internal`). Anything else is not
/// kept: the field is free text to whoever can put events.
fn source_ip(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    let service = raw.len() <= 64
        && raw.strip_suffix(".amazonaws.com").is_some_and(|name| {
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        });
    (raw.parse::<IpAddr>().is_ok() || service || raw == "AWS Internal").then(|| raw.to_owned())
}

/// `awsRegion`, kept when it looks like one (`us-east-1`).
fn region(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    let ok = (4..=32).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && raw.contains('-');
    ok.then(|| raw.to_owned())
}

/// `additionalEventData.MFAUsed`.
fn mfa_used(detail: &Map<String, Value>) -> Option<bool> {
    match detail.get("additionalEventData").and_then(Value::as_object).and_then(|d| text(d, "MFAUsed")) {
        Some("Yes") => Some(true),
        Some("No") => Some(false),
        _ => None,
    }
}

/// Failed when `responseElements.<eventName>` says `Failure`, or the record
/// carries an `errorMessage` or `errorCode`.
fn outcome(detail: &Map<String, Value>, name: EventName) -> LoginOutcome {
    let said_failure = detail
        .get("responseElements")
        .and_then(Value::as_object)
        .and_then(|r| text(r, name.as_str()))
        .is_some_and(|v| v.eq_ignore_ascii_case("failure"));
    let error = ["errorMessage", "errorCode"].iter().any(|k| detail.get(*k).is_some_and(|v| !v.is_null()));
    if said_failure || error { LoginOutcome::Failure } else { LoginOutcome::Success }
}

/// Read one SQS message body. Bodies over `max_bytes` are rejected before
/// they are parsed.
pub fn parse(body: &str, max_bytes: usize) -> Parsed {
    if body.len() > max_bytes {
        return Parsed::Rejected { reason: RejectReason::Oversized, account: None };
    }
    let Ok(Value::Object(envelope)) = serde_json::from_str::<Value>(body) else { return malformed(None) };
    let Some(detail) = envelope.get("detail").and_then(Value::as_object) else { return malformed(None) };
    let account = named_account(&envelope, detail).ok();
    // Only AWS may put events whose source starts with `aws.`: a custom
    // event dressed as a sign-in is not one.
    let from_aws = text(&envelope, "source").is_some_and(|s| s.starts_with("aws."));
    let known_type = text(&envelope, "detail-type").is_some_and(|t| DETAIL_TYPES.contains(&t));
    if !from_aws || !known_type {
        return malformed(account);
    }
    let identity = detail.get("userIdentity").and_then(Value::as_object);
    let (Some(kind), Some(name)) = (identity.and_then(|i| text(i, "type")), text(detail, "eventName")) else {
        return malformed(account);
    };
    let Some(event_name) = EventName::parse(name).filter(|_| kind == "Root") else { return Parsed::NotRoot };
    let event_id = text(detail, "eventID").and_then(EventId::parse);
    let event_time = text(detail, "eventTime").or_else(|| text(&envelope, "time")).and_then(unix_time);
    let (Some(event_id), Some(event_time), Some(account)) = (event_id, event_time, account.clone()) else {
        return malformed(account);
    };
    Parsed::Root(RootEvent {
        event_id,
        account,
        event_name,
        event_time,
        source_ip: source_ip(text(detail, "sourceIPAddress")),
        mfa_used: mfa_used(detail),
        outcome: outcome(detail, event_name),
        region: region(text(detail, "awsRegion")),
    })
}

/// `expected`, `unexplained` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// Explained by custody: a released password's window, or a rotation.
    Expected,
    /// A successful root event nothing in custody explains: an alert.
    Unexplained,
    /// A failed attempt: an alert.
    Failed,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Expected => "expected",
            Classification::Unexplained => "unexplained",
            Classification::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Classification::Expected, Classification::Unexplained, Classification::Failed]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// Whether both parties are alerted.
    pub fn alerts(self) -> bool {
        self != Classification::Expected
    }
}

/// A password half released under an approved request of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRelease {
    pub request_id: String,
    pub released_at: i64,
    /// The end of the request's approval window (its expiry).
    pub window_ends: i64,
}

/// What custody knows that can explain a root event of one account.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    pub releases: &'a [PasswordRelease],
    /// When password rotation candidates were generated.
    pub rotations: &'a [i64],
}

/// How far apart custody's clock and AWS's may be, and how long a rotation
/// candidate explains a password change (`[watch]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerances {
    pub clock_skew_seconds: i64,
    pub rotation_window_seconds: i64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self { clock_skew_seconds: 120, rotation_window_seconds: 24 * 3600 }
    }
}

/// The watch's settings the rules use (`[watch]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRules {
    /// Larger messages are rejected unread.
    pub max_message_bytes: usize,
    pub tolerances: Tolerances,
}

impl Default for WatchRules {
    fn default() -> Self {
        Self { max_message_bytes: 64 * 1024, tolerances: Tolerances::default() }
    }
}

/// The classification of one event, with the request that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub classification: Classification,
    pub request_id: Option<String>,
}

impl Verdict {
    fn plain(classification: Classification) -> Self {
        Self { classification, request_id: None }
    }
}

/// Classify `event` (DESIGN §15; docs/root-signin-watch.md):
/// - any failure is `failed`;
/// - a console sign-in is `expected` when a password of the account was
///   released at or before `event_time + skew` and the event falls no later
///   than that request's window end `+ skew` (the latest such release names
///   the request), else `unexplained`;
/// - a password update or recovery is `expected` when a rotation candidate
///   was generated within `[event_time - rotation_window, event_time + skew]`,
///   else `unexplained`;
/// - an e-mail change is always `unexplained`: the root e-mail never changes
///   while in custody.
pub fn classify(event: &RootEvent, evidence: Evidence<'_>, t: Tolerances) -> Verdict {
    if event.outcome == LoginOutcome::Failure {
        return Verdict::plain(Classification::Failed);
    }
    let at = event.event_time;
    let skew = t.clock_skew_seconds;
    match event.event_name {
        EventName::ConsoleLogin => evidence
            .releases
            .iter()
            .filter(|r| r.released_at <= at.saturating_add(skew) && at <= r.window_ends.saturating_add(skew))
            .max_by(|a, b| a.released_at.cmp(&b.released_at).then_with(|| a.request_id.cmp(&b.request_id)))
            .map_or(Verdict::plain(Classification::Unexplained), |r| Verdict {
                classification: Classification::Expected,
                request_id: Some(r.request_id.clone()),
            }),
        EventName::PasswordUpdated | EventName::PasswordRecoveryRequested | EventName::PasswordRecoveryCompleted => {
            let from = at.saturating_sub(t.rotation_window_seconds);
            let explained = evidence.rotations.iter().any(|&r| from <= r && r <= at.saturating_add(skew));
            Verdict::plain(if explained { Classification::Expected } else { Classification::Unexplained })
        }
        EventName::EmailUpdated => Verdict::plain(Classification::Unexplained),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const MAX: usize = 65536;
    /// 2026-11-22T10:00:00Z
    const T: i64 = 1_795_341_600;

    fn body(detail_type: &str, detail: Value) -> String {
        json!({
            "version": "0", "id": "6f87d04b-9f74-4f04-a780-7acf4b0a9b38", "detail-type": detail_type,
            "source": "aws.signin", "account": "999999999999", "time": "2026-11-22T10:00:05Z",
            "region": "us-east-1", "resources": [], "detail": detail,
        })
        .to_string()
    }

    fn root_login() -> Value {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
            "eventTime": "2026-11-22T10:00:00Z",
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "Mozilla/5.0",
            "requestParameters": null,
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No", "MFAUsed": "Yes"},
            "eventID": "d2b1c2a3-0d43-4a4b-9f7d-4f2a0c3e1b11",
            "readOnly": false,
            "eventType": "AwsConsoleSignIn",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
        })
    }

    fn root(parsed: Parsed) -> RootEvent {
        match parsed {
            Parsed::Root(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn with(mut detail: Value, key: &str, value: Value) -> Value {
        detail[key] = value;
        detail
    }

    fn rejected(reason: RejectReason, account: Option<&str>) -> Parsed {
        Parsed::Rejected { reason, account: account.map(|a| a.parse().unwrap()) }
    }

    #[test]
    fn a_root_console_sign_in_is_read_with_both_spellings() {
        for spelling in &DETAIL_TYPES[..2] {
            let event = root(parse(&body(spelling, root_login()), MAX));
            assert_eq!(event.event_id.as_str(), "d2b1c2a3-0d43-4a4b-9f7d-4f2a0c3e1b11");
            assert_eq!(event.account.as_str(), "123456789012");
            assert_eq!(event.event_name, EventName::ConsoleLogin);
            assert_eq!(event.event_time, T);
            assert_eq!(event.source_ip.as_deref(), Some("203.0.113.7"));
            assert_eq!(event.mfa_used, Some(true));
            assert_eq!(event.outcome, LoginOutcome::Success);
            assert_eq!(event.region.as_deref(), Some("us-east-1"));
        }
    }

    #[test]
    fn failures_are_read_from_the_response_or_an_error() {
        let failed = with(root_login(), "responseElements", json!({"ConsoleLogin": "Failure"}));
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], failed), MAX)).outcome, LoginOutcome::Failure);
        let error = with(root_login(), "errorMessage", json!("Failed authentication"));
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], error), MAX)).outcome, LoginOutcome::Failure);
        let code = with(root_login(), "errorCode", json!("AccessDenied"));
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], code), MAX)).outcome, LoginOutcome::Failure);
        let null_error = with(root_login(), "errorMessage", Value::Null);
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], null_error), MAX)).outcome, LoginOutcome::Success);
        let password = with(
            with(root_login(), "eventName", json!("PasswordUpdated")),
            "responseElements",
            json!({"PasswordUpdated": "Failure"}),
        );
        let event = root(parse(&body(DETAIL_TYPES[2], password), MAX));
        assert_eq!((event.event_name, event.outcome), (EventName::PasswordUpdated, LoginOutcome::Failure));
    }

    #[test]
    fn the_account_comes_from_the_recipient_then_the_identity_then_the_envelope() {
        let mut detail = root_login();
        detail["recipientAccountId"] = json!("111111111111");
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX)).account.as_str(), "111111111111");
        detail.as_object_mut().unwrap().remove("recipientAccountId");
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX)).account.as_str(), "123456789012");
        detail["userIdentity"].as_object_mut().unwrap().remove("accountId");
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX)).account.as_str(), "999999999999");
        detail["recipientAccountId"] = json!("12345");
        assert_eq!(parse(&body(DETAIL_TYPES[0], detail), MAX), rejected(RejectReason::Malformed, None));
    }

    #[test]
    fn optional_fields_are_dropped_when_they_are_not_what_they_claim() {
        let mut detail = root_login();
        detail["sourceIPAddress"] = json!("<script>alert(1)</script>");
        detail["awsRegion"] = json!("Robert'); DROP TABLE");
        detail["additionalEventData"] = json!({"MFAUsed": "maybe"});
        let event = root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX));
        assert_eq!((event.source_ip, event.region, event.mfa_used), (None, None, None));
        for (ip, kept) in [
            ("2001:db8::1", true),
            ("signin.amazonaws.com", true),
            ("AWS Internal", true),
            ("evil.example", false),
            (".amazonaws.com", false),
            ("a b.amazonaws.com", false),
        ] {
            detail["sourceIPAddress"] = json!(ip);
            assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX)).source_ip.is_some(), kept, "{ip}");
        }
        detail["additionalEventData"] = json!({"MFAUsed": "No"});
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.clone()), MAX)).mfa_used, Some(false));
        detail.as_object_mut().unwrap().remove("additionalEventData");
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail), MAX)).mfa_used, None);
    }

    #[test]
    fn other_identities_and_other_event_names_are_not_the_watchs_business() {
        let mut user = root_login();
        user["userIdentity"]["type"] = json!("IAMUser");
        assert_eq!(parse(&body(DETAIL_TYPES[0], user), MAX), Parsed::NotRoot);
        let other = with(root_login(), "eventName", json!("CheckMfa"));
        assert_eq!(parse(&body(DETAIL_TYPES[0], other), MAX), Parsed::NotRoot);
        for name in EventName::ALL {
            let detail = with(root_login(), "eventName", json!(name.as_str()));
            assert_eq!(root(parse(&body(DETAIL_TYPES[2], detail), MAX)).event_name, name);
        }
    }

    #[test]
    fn what_is_not_a_root_event_from_aws_is_malformed() {
        let account = Some("123456789012");
        let cases = [
            ("not json".to_owned(), None),
            ("[1, 2]".to_owned(), None),
            (json!({"detail": "x"}).to_string(), None),
            (body("Scheduled Event", root_login()), account),
            (body(DETAIL_TYPES[0], root_login()).replace("aws.signin", "my.app"), account),
            (body(DETAIL_TYPES[0], with(root_login(), "eventID", json!("has spaces"))), account),
            (body(DETAIL_TYPES[0], with(root_login(), "eventID", json!(7))), account),
            (body(DETAIL_TYPES[0], with(root_login(), "eventName", Value::Null)), account),
            (body(DETAIL_TYPES[0], with(root_login(), "userIdentity", json!({}))), account),
        ];
        for (text, account) in cases {
            assert_eq!(parse(&text, MAX), rejected(RejectReason::Malformed, account), "{text}");
        }
        let mut no_time = root_login();
        no_time["eventTime"] = json!("yesterday");
        let text = body(DETAIL_TYPES[0], no_time).replace("2026-11-22T10:00:05Z", "later");
        assert_eq!(parse(&text, MAX), rejected(RejectReason::Malformed, account));
        // The envelope's time stands in for a missing eventTime.
        let detail = root_login().as_object().cloned().map(|mut d| {
            d.remove("eventTime");
            Value::Object(d)
        });
        assert_eq!(root(parse(&body(DETAIL_TYPES[0], detail.unwrap()), MAX)).event_time, T + 5);
    }

    #[test]
    fn size_is_checked_before_parsing() {
        let text = body(DETAIL_TYPES[0], root_login());
        assert!(matches!(parse(&text, text.len()), Parsed::Root(_)));
        assert_eq!(parse(&text, text.len() - 1), rejected(RejectReason::Oversized, None));
        assert_eq!(parse(&"{".repeat(100), 10), rejected(RejectReason::Oversized, None));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_on_any_string(s in ".{0,600}") {
            let _ = parse(&s, MAX);
        }

        #[test]
        fn parsing_never_panics_on_a_mangled_event(cut in 0usize..2000, junk in ".{0,40}") {
            let text = body(DETAIL_TYPES[0], root_login());
            let cut = cut.min(text.len());
            let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let _ = parse(&format!("{}{junk}{}", &text[..cut], &text[cut..]), MAX);
        }
    }

    // --- classification -------------------------------------------------

    fn event(name: EventName, outcome: LoginOutcome) -> RootEvent {
        RootEvent {
            event_id: EventId::parse("e-1").unwrap(),
            account: "123456789012".parse().unwrap(),
            event_name: name,
            event_time: T,
            source_ip: None,
            mfa_used: None,
            outcome,
            region: None,
        }
    }

    fn release(id: &str, released_at: i64, window_ends: i64) -> PasswordRelease {
        PasswordRelease { request_id: id.into(), released_at, window_ends }
    }

    const TOL: Tolerances = Tolerances { clock_skew_seconds: 120, rotation_window_seconds: 24 * 3600 };

    fn verdict(e: &RootEvent, releases: &[PasswordRelease], rotations: &[i64]) -> (Classification, Option<String>) {
        let v = classify(e, Evidence { releases, rotations }, TOL);
        (v.classification, v.request_id)
    }

    #[test]
    fn any_failure_is_failed_whatever_explains_it() {
        let releases = [release("req_a", T - 60, T + 3600)];
        for name in EventName::ALL {
            let e = event(name, LoginOutcome::Failure);
            assert_eq!(verdict(&e, &releases, &[T - 60]), (Classification::Failed, None), "{name:?}");
        }
    }

    #[test]
    fn a_console_sign_in_inside_a_released_window_is_expected_with_its_request() {
        let e = event(EventName::ConsoleLogin, LoginOutcome::Success);
        let expected = |id: &str| (Classification::Expected, Some(id.to_owned()));
        let unexplained = (Classification::Unexplained, None);
        assert_eq!(verdict(&e, &[], &[]), unexplained);
        assert_eq!(verdict(&e, &[release("req_a", T - 600, T + 3000)], &[]), expected("req_a"));
        // The edges, with the clock skew on both sides.
        assert_eq!(verdict(&e, &[release("req_a", T + 120, T + 3000)], &[]), expected("req_a"));
        assert_eq!(verdict(&e, &[release("req_a", T + 121, T + 3000)], &[]), unexplained);
        assert_eq!(verdict(&e, &[release("req_a", T - 4000, T - 120)], &[]), expected("req_a"));
        assert_eq!(verdict(&e, &[release("req_a", T - 4000, T - 121)], &[]), unexplained);
        // A rotation does not explain a sign-in.
        assert_eq!(verdict(&e, &[], &[T - 10]), unexplained);
        // Several: the latest release that fits names the request.
        let several = [
            release("req_old", T - 3000, T + 600),
            release("req_new", T - 60, T + 3540),
            release("req_later", T + 600, T + 4000),
        ];
        assert_eq!(verdict(&e, &several, &[]), expected("req_new"));
    }

    #[test]
    fn a_password_change_or_recovery_is_expected_only_near_a_rotation() {
        for name in
            [EventName::PasswordUpdated, EventName::PasswordRecoveryRequested, EventName::PasswordRecoveryCompleted]
        {
            let e = event(name, LoginOutcome::Success);
            let expected = (Classification::Expected, None);
            let unexplained = (Classification::Unexplained, None);
            assert_eq!(verdict(&e, &[], &[]), unexplained, "{name:?}");
            assert_eq!(verdict(&e, &[], &[T - 3600]), expected, "{name:?}");
            assert_eq!(verdict(&e, &[], &[T - 24 * 3600]), expected, "{name:?}");
            assert_eq!(verdict(&e, &[], &[T - 24 * 3600 - 1]), unexplained, "{name:?}");
            assert_eq!(verdict(&e, &[], &[T + 120]), expected, "{name:?}");
            assert_eq!(verdict(&e, &[], &[T + 121]), unexplained, "{name:?}");
            // A released password does not explain a change of it.
            assert_eq!(verdict(&e, &[release("req_a", T - 60, T + 3600)], &[]), unexplained, "{name:?}");
        }
    }

    #[test]
    fn an_email_change_is_never_expected() {
        let e = event(EventName::EmailUpdated, LoginOutcome::Success);
        let v = verdict(&e, &[release("req_a", T - 60, T + 3600)], &[T - 60]);
        assert_eq!(v, (Classification::Unexplained, None));
    }

    #[test]
    fn names_round_trip() {
        for name in EventName::ALL {
            assert_eq!(EventName::parse(name.as_str()), Some(name));
        }
        for c in [Classification::Expected, Classification::Unexplained, Classification::Failed] {
            assert_eq!(Classification::parse(c.as_str()), Some(c));
        }
        for o in [LoginOutcome::Success, LoginOutcome::Failure] {
            assert_eq!(LoginOutcome::parse(o.as_str()), Some(o));
        }
        assert!(!Classification::Expected.alerts() && Classification::Failed.alerts());
    }
}
