//! The `root_signins` table: root events the watch recorded, once per
//! CloudTrail event id; and the custody evidence its rule reads (password
//! releases and rotation candidates, from the audit log, the requests and
//! the deliver links).

use super::StoreError;
use super::sql::dialect::{Key, json_int, json_text, unix_seconds};
use super::sql::{Conn, Row, params};
use crate::domain::ids::AccountId;
use crate::domain::root_signin::{
    Classification, EventId, EventName, LoginOutcome, PasswordRelease, RootEvent, Verdict,
};

/// One recorded root event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRootSignin {
    pub id: String,
    pub account_id: AccountId,
    pub event_id: String,
    pub event_name: EventName,
    /// Unix seconds, AWS's clock.
    pub event_time: i64,
    pub recorded_at: String,
    pub outcome: LoginOutcome,
    pub classification: Classification,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub mfa_used: Option<bool>,
    pub region: Option<String>,
}

const COLUMNS: &str = "id, account_id, event_id, event_name, event_time, recorded_at, outcome, classification,
                       request_id, source_ip, mfa_used, region";

/// A recorded event from a row of `COLUMNS`.
fn from_row(r: &Row) -> Result<StoredRootSignin, StoreError> {
    let (account, name, outcome, class): (String, String, String, String) =
        (r.get(1)?, r.get(3)?, r.get(6)?, r.get(7)?);
    let parsed = (
        account.parse::<AccountId>(),
        EventName::parse(&name),
        LoginOutcome::parse(&outcome),
        Classification::parse(&class),
    );
    let (Ok(account_id), Some(event_name), Some(outcome), Some(classification)) = parsed else {
        return Err(StoreError::Corrupt("root_signins row".into()));
    };
    Ok(StoredRootSignin {
        id: r.get(0)?,
        account_id,
        event_id: r.get(2)?,
        event_name,
        event_time: r.get(4)?,
        recorded_at: r.get(5)?,
        outcome,
        classification,
        request_id: r.get(8)?,
        source_ip: r.get(9)?,
        mfa_used: r.get(10)?,
        region: r.get(11)?,
    })
}

/// Whether an event with this CloudTrail id is already recorded.
pub fn exists(conn: &Conn, event_id: &EventId) -> Result<bool, StoreError> {
    conn.query_one("SELECT EXISTS (SELECT 1 FROM root_signins WHERE event_id = ?1)", params![event_id.as_str()])?.get(0)
}

/// Record `event` as `id` with its verdict; false (and nothing written) if
/// an event with its CloudTrail id is already recorded. A duplicate is not
/// an error, so the transaction goes on (PostgreSQL would abort it).
pub fn insert(tx: &Conn, id: &str, event: &RootEvent, verdict: &Verdict, now: &str) -> Result<bool, StoreError> {
    let inserted = tx.execute(
        &format!(
            "INSERT INTO root_signins ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (event_id) DO NOTHING"
        ),
        params![
            id,
            event.account.as_str(),
            event.event_id.as_str(),
            event.event_name.as_str(),
            event.event_time,
            now,
            event.outcome.as_str(),
            verdict.classification.as_str(),
            verdict.request_id,
            event.source_ip,
            event.mfa_used,
            event.region,
        ],
    )?;
    Ok(inserted == 1)
}

/// Where a listing stands: the `(event_time, id)` of a row.
pub type Position = (i64, String);

/// One page of an account's root events, newest first, and the position to
/// continue after when the page was full.
pub fn list(
    conn: &Conn,
    account: &AccountId,
    after: Option<(i64, &str)>,
    limit: u32,
) -> Result<(Vec<StoredRootSignin>, Option<Position>), StoreError> {
    let (after_time, after_id) = after.unzip();
    let out = conn
        .query(
            &format!(
                "SELECT {COLUMNS} FROM root_signins
                  WHERE account_id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR (event_time, id) < (?2, ?3))
                  ORDER BY event_time DESC, id DESC LIMIT ?4"
            ),
            params![account.as_str(), after_time, after_id, limit],
        )?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next =
        (out.len() as u64 >= u64::from(limit)).then(|| out.last().map(|s| (s.event_time, s.id.clone()))).flatten();
    Ok((out, next))
}

/// The account's password releases under a request whose window may still
/// have been open at `earliest` and that happened no later than `latest`
/// (Unix seconds). A release is a `half.release` event of the password half
/// that names its request, or a deliver link made under a request (its
/// creation is the release, recorded with the link rather than the request).
pub fn password_releases(
    conn: &Conn,
    account: &AccountId,
    earliest: i64,
    latest: i64,
) -> Result<Vec<PasswordRelease>, StoreError> {
    let d = conn.dialect();
    let window_ends = json_int(d, "r.body", &[Key::Name("window_ends")]);
    let sql = format!(
        "SELECT request_id, released_at, window_ends FROM (
             SELECT r.id AS request_id, {released} AS released_at, {window_ends} AS window_ends
               FROM audit_events e JOIN requests r ON r.id = {request}
              WHERE e.account_id = ?1 AND e.action = 'half.release' AND e.outcome = 'ok'
                AND {half} = 'password' AND r.account_id = ?1
             UNION ALL
             SELECT r.id, {created}, {window_ends}
               FROM links l JOIN requests r ON r.id = l.request_id
              WHERE l.account_id = ?1 AND l.purpose = 'deliver' AND l.half = 'password' AND r.account_id = ?1) releases
          WHERE window_ends IS NOT NULL AND released_at <= ?3 AND window_ends >= ?2
          ORDER BY released_at, request_id",
        released = unix_seconds(d, "e.time"),
        request = json_text(d, "e.event_json", &[Key::Name("target"), Key::Name("request_id")]),
        half = json_text(d, "e.event_json", &[Key::Name("target"), Key::Name("half")]),
        created = unix_seconds(d, "l.created_at"),
    );
    conn.query(&sql, params![account.as_str(), earliest, latest])?
        .iter()
        .map(|r| Ok(PasswordRelease { request_id: r.get(0)?, released_at: r.get(1)?, window_ends: r.get(2)? }))
        .collect()
}

/// When password rotation candidates (`half.rotate`) were generated for the
/// account between `from` and `to` (Unix seconds, inclusive).
pub fn rotation_candidates(conn: &Conn, account: &AccountId, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
    let d = conn.dialect();
    let sql = format!(
        "SELECT at FROM (
             SELECT {at} AS at FROM audit_events
              WHERE account_id = ?1 AND action = 'half.rotate' AND outcome = 'ok'
                AND {half} = 'password') rotations
          WHERE at BETWEEN ?2 AND ?3 ORDER BY at",
        at = unix_seconds(d, "time"),
        half = json_text(d, "event_json", &[Key::Name("target"), Key::Name("half")]),
    );
    conn.query(&sql, params![account.as_str(), from, to])?.iter().map(|r| r.get(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn an_event_recorded_twice_is_kept_once_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let event = RootEvent {
            event_id: EventId::parse("0b6c8c1e-9a3f-4c1e-8a52-3f1f2b6d7e01").unwrap(),
            account: "123456789012".parse().unwrap(),
            event_name: EventName::ConsoleLogin,
            event_time: 1_772_368_496,
            source_ip: None,
            mfa_used: Some(true),
            outcome: LoginOutcome::Success,
            region: None,
        };
        let verdict = Verdict { classification: Classification::Unexplained, request_id: None };
        let stored = store
            .blocking(|c| {
                c.execute(
                    "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, root_email, contacts,
                                           kms_keys, created_at, created_by)
                     VALUES ('123456789012', 'a', 'payer', 'spam', 1, 'provider_split', 'r@x', '{}', '{}', 't', 'acme/ada')",
                    params![],
                )?;
                let first = insert(c, "first", &event, &verdict, "t")?;
                let second = insert(c, "second", &event, &verdict, "t")?;
                Ok((first, second, list(c, &event.account, None, 10)?.0))
            })
            .unwrap();
        assert_eq!((stored.0, stored.1), (true, false));
        assert_eq!(stored.2.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["first"]);
        assert_eq!(stored.2[0].mfa_used, Some(true));
    }
}
