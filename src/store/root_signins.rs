//! The `root_signins` table: root events the watch recorded, once per
//! CloudTrail event id; and the custody evidence its rule reads (password
//! releases and rotation candidates, from the audit log, the requests and
//! the deliver links).

use rusqlite::{Connection, Row, Transaction, params};

use super::StoreError;
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

fn from_row(r: &Row) -> Result<Result<StoredRootSignin, StoreError>, rusqlite::Error> {
    let (account, name, outcome, class): (String, String, String, String) =
        (r.get(1)?, r.get(3)?, r.get(6)?, r.get(7)?);
    let parsed = (
        account.parse::<AccountId>(),
        EventName::parse(&name),
        LoginOutcome::parse(&outcome),
        Classification::parse(&class),
    );
    let (Ok(account_id), Some(event_name), Some(outcome), Some(classification)) = parsed else {
        return Ok(Err(StoreError::Corrupt("root_signins row".into())));
    };
    let mfa_used: Option<i64> = r.get(10)?;
    Ok(Ok(StoredRootSignin {
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
        mfa_used: mfa_used.map(|m| m != 0),
        region: r.get(11)?,
    }))
}

/// Whether an event with this CloudTrail id is already recorded.
pub fn exists(conn: &Connection, event_id: &EventId) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM root_signins WHERE event_id = ?1)", [event_id.as_str()], |r| {
        r.get(0)
    })?)
}

/// Record `event` as `id` with its verdict.
pub fn insert(tx: &Transaction, id: &str, event: &RootEvent, verdict: &Verdict, now: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO root_signins ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
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
    Ok(())
}

/// Where a listing stands: the `(event_time, id)` of a row.
pub type Position = (i64, String);

/// One page of an account's root events, newest first, and the position to
/// continue after when the page was full.
pub fn list(
    conn: &Connection,
    account: &AccountId,
    after: Option<(i64, &str)>,
    limit: u32,
) -> Result<(Vec<StoredRootSignin>, Option<Position>), StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM root_signins
          WHERE account_id = ?1 AND (?2 IS NULL OR (event_time, id) < (?2, ?3))
          ORDER BY event_time DESC, id DESC LIMIT ?4"
    ))?;
    let (after_time, after_id) = after.unzip();
    let rows = stmt.query_map(params![account.as_str(), after_time, after_id, limit], from_row)?;
    let out = rows.map(|r| r.map_err(StoreError::from).and_then(|s| s)).collect::<Result<Vec<_>, _>>()?;
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
    conn: &Connection,
    account: &AccountId,
    earliest: i64,
    latest: i64,
) -> Result<Vec<PasswordRelease>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT request_id, released_at, window_ends FROM (
             SELECT r.id AS request_id, CAST(strftime('%s', e.time) AS INTEGER) AS released_at,
                    json_extract(r.body, '$.window_ends') AS window_ends
               FROM audit_events e JOIN requests r ON r.id = json_extract(e.event_json, '$.target.request_id')
              WHERE e.account_id = ?1 AND e.action = 'half.release' AND e.outcome = 'ok'
                AND json_extract(e.event_json, '$.target.half') = 'password' AND r.account_id = ?1
             UNION ALL
             SELECT r.id, CAST(strftime('%s', l.created_at) AS INTEGER), json_extract(r.body, '$.window_ends')
               FROM links l JOIN requests r ON r.id = l.request_id
              WHERE l.account_id = ?1 AND l.purpose = 'deliver' AND l.half = 'password' AND r.account_id = ?1)
          WHERE window_ends IS NOT NULL AND released_at <= ?3 AND window_ends >= ?2
          ORDER BY released_at, request_id",
    )?;
    let rows = stmt.query_map(params![account.as_str(), earliest, latest], |r| {
        Ok(PasswordRelease { request_id: r.get(0)?, released_at: r.get(1)?, window_ends: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When password rotation candidates (`half.rotate`) were generated for the
/// account between `from` and `to` (Unix seconds, inclusive).
pub fn rotation_candidates(conn: &Connection, account: &AccountId, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT at FROM (
             SELECT CAST(strftime('%s', time) AS INTEGER) AS at FROM audit_events
              WHERE account_id = ?1 AND action = 'half.rotate' AND outcome = 'ok'
                AND json_extract(event_json, '$.target.half') = 'password')
          WHERE at BETWEEN ?2 AND ?3 ORDER BY at",
    )?;
    let rows = stmt.query_map(params![account.as_str(), from, to], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
