//! The `accounts` table.

use super::StoreError;
use super::sql::{Conn, Row, params};
use crate::domain::account::{Account, AccountKind, AccountModel, AssignmentTerms, CustodyMode};
use crate::domain::closure::AccountStatus;
use crate::domain::ids::{AccountId, OrgName, Principal};
use crate::domain::onboarding::OnboardingState;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("accounts.{what}"))
}

fn enum_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt("enum did not serialize as a string".into())),
    }
}

fn enum_from<T: serde::de::DeserializeOwned>(text: String, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|_| corrupt(what))
}

/// Insert a new account. A duplicate id is a constraint violation.
pub fn insert(tx: &Conn, account: &Account, by: &Principal, now: &str) -> Result<(), StoreError> {
    let contacts = serde_json::to_string(&account.contacts).map_err(|_| corrupt("contacts"))?;
    let kms_keys = serde_json::to_string(&account.kms_keys).map_err(|_| corrupt("kms_keys"))?;
    let onboarding = OnboardingState::for_new_account(account.custody);
    tx.execute(
        "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, customer_org,
                               root_email, contacts, kms_keys, created_at, created_by, onboarding,
                               public_sector, aws_india)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            account.account_id.as_str(),
            account.name,
            enum_text(&account.kind)?,
            enum_text(&account.model)?,
            account.dedicated_payer,
            account.custody.as_str(),
            account.customer_org.as_ref().map(|o| o.as_str()),
            account.root_email.as_str(),
            contacts,
            kms_keys,
            now,
            by.to_string(),
            onboarding.as_str(),
            account.assignment.public_sector,
            account.assignment.aws_india,
        ],
    )?;
    Ok(())
}

/// Store the details a provider admin may change: name, root e-mail,
/// contacts and the consent flags.
pub fn update_details(tx: &Conn, account: &Account) -> Result<(), StoreError> {
    let contacts = serde_json::to_string(&account.contacts).map_err(|_| corrupt("contacts"))?;
    tx.execute(
        "UPDATE accounts SET name = ?2, root_email = ?3, contacts = ?4, public_sector = ?5, aws_india = ?6
          WHERE account_id = ?1",
        params![
            account.account_id.as_str(),
            account.name,
            account.root_email.as_str(),
            contacts,
            account.assignment.public_sector,
            account.assignment.aws_india,
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "account_id, name, kind, model, dedicated_payer, custody, customer_org, root_email, contacts, \
                       kms_keys, public_sector, aws_india";

/// An account from a row of `COLUMNS`.
fn from_row(row: &Row) -> Result<Account, StoreError> {
    Ok(Account {
        account_id: row.get::<String>(0)?.parse().map_err(|_| corrupt("account_id"))?,
        name: row.get(1)?,
        kind: enum_from::<AccountKind>(row.get(2)?, "kind")?,
        model: enum_from::<AccountModel>(row.get(3)?, "model")?,
        dedicated_payer: row.get(4)?,
        custody: row.get::<String>(5)?.parse::<CustodyMode>().map_err(|_| corrupt("custody"))?,
        customer_org: row
            .get::<Option<String>>(6)?
            .map(|o| o.parse())
            .transpose()
            .map_err(|_| corrupt("customer_org"))?,
        root_email: row.get::<String>(7)?.parse().map_err(|_| corrupt("root_email"))?,
        contacts: serde_json::from_str(&row.get::<String>(8)?).map_err(|_| corrupt("contacts"))?,
        kms_keys: serde_json::from_str(&row.get::<String>(9)?).map_err(|_| corrupt("kms_keys"))?,
        assignment: AssignmentTerms { public_sector: row.get(10)?, aws_india: row.get(11)? },
    })
}

/// One account by id.
pub fn get(conn: &Conn, id: &AccountId) -> Result<Option<Account>, StoreError> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM accounts WHERE account_id = ?1"), params![id.as_str()])?
        .map(|row| from_row(&row))
        .transpose()
}

/// All accounts, in id order.
pub fn list(conn: &Conn) -> Result<Vec<Account>, StoreError> {
    conn.query(&format!("SELECT {COLUMNS} FROM accounts ORDER BY account_id"), params![])?
        .iter()
        .map(from_row)
        .collect()
}

/// `active`, `returned` (handed back to the customer), `closed` or
/// `closed_permanently`.
pub fn status(conn: &Conn, id: &AccountId) -> Result<Option<String>, StoreError> {
    conn.query_opt("SELECT status FROM accounts WHERE account_id = ?1", params![id.as_str()])?
        .map(|r| r.get(0))
        .transpose()
}

/// Where an account stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: AccountStatus,
    pub onboarding: OnboardingState,
    /// When it was closed (Unix seconds, the calendar clock).
    pub closed_at: Option<i64>,
}

/// The lifecycle of one account.
pub fn lifecycle(conn: &Conn, id: &AccountId) -> Result<Option<Lifecycle>, StoreError> {
    let row = conn
        .query_opt("SELECT status, onboarding, closed_at FROM accounts WHERE account_id = ?1", params![id.as_str()])?;
    row.map(|r| {
        Ok(Lifecycle {
            status: AccountStatus::parse(&r.get::<String>(0)?).ok_or_else(|| corrupt("status"))?,
            onboarding: OnboardingState::parse(&r.get::<String>(1)?).ok_or_else(|| corrupt("onboarding"))?,
            closed_at: r.get(2)?,
        })
    })
    .transpose()
}

/// Record where the account's onboarding stands.
pub fn set_onboarding(tx: &Conn, id: &AccountId, state: OnboardingState) -> Result<(), StoreError> {
    tx.execute("UPDATE accounts SET onboarding = ?2 WHERE account_id = ?1", params![id.as_str(), state.as_str()])?;
    Ok(())
}

/// Close an account at `at` (Unix seconds), keeping everything it holds.
pub fn close(tx: &Conn, id: &AccountId, at: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE accounts SET status = 'closed', closed_at = ?2 WHERE account_id = ?1",
        params![id.as_str(), at],
    )?;
    Ok(())
}

/// Reopen a closed account: it is active again.
pub fn reopen(tx: &Conn, id: &AccountId) -> Result<(), StoreError> {
    tx.execute("UPDATE accounts SET status = 'active', closed_at = NULL WHERE account_id = ?1", params![id.as_str()])?;
    Ok(())
}

/// Accounts that are closed (and may still be reopened), with when.
pub fn closed(conn: &Conn) -> Result<Vec<(AccountId, i64)>, StoreError> {
    let rows = conn.query(
        "SELECT account_id, closed_at FROM accounts WHERE status = 'closed' AND closed_at IS NOT NULL
          ORDER BY account_id",
        params![],
    )?;
    rows.iter().map(|r| Ok((r.get::<String>(0)?.parse().map_err(|_| corrupt("account_id"))?, r.get(1)?))).collect()
}

/// Hand the account to another customer.
pub fn move_to(tx: &Conn, id: &AccountId, customer: &OrgName) -> Result<(), StoreError> {
    tx.execute("UPDATE accounts SET customer_org = ?2 WHERE account_id = ?1", params![id.as_str(), customer.as_str()])?;
    Ok(())
}

/// End custody of an account: destroy the wrapped data keys of every half
/// version (crypto-shredding: the ciphertexts can never be opened again),
/// drop pending rotations and custodians, and record the new status.
pub fn end_custody(tx: &Conn, id: &AccountId, status: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE half_versions SET wrapped_key = ?2, ciphertext = ?2 WHERE account_id = ?1",
        params![id.as_str(), super::SHREDDED],
    )?;
    tx.execute("DELETE FROM pending_rotations WHERE account_id = ?1", params![id.as_str()])?;
    super::fingerprints::forget(tx, id)?;
    tx.execute("DELETE FROM custodians WHERE account_id = ?1", params![id.as_str()])?;
    tx.execute("UPDATE accounts SET status = ?2 WHERE account_id = ?1", params![id.as_str(), status])?;
    Ok(())
}
