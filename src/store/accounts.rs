//! The `accounts` table.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::StoreError;
use crate::domain::account::{Account, AccountKind, AccountModel, CustodyMode};
use crate::domain::ids::{AccountId, Principal};

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
pub fn insert(tx: &Transaction, account: &Account, by: &Principal, now: &str) -> Result<(), StoreError> {
    let contacts = serde_json::to_string(&account.contacts).map_err(|_| corrupt("contacts"))?;
    let kms_keys = serde_json::to_string(&account.kms_keys).map_err(|_| corrupt("kms_keys"))?;
    tx.execute(
        "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, customer_org,
                               root_email, contacts, kms_keys, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        ],
    )?;
    Ok(())
}

const COLUMNS: &str =
    "account_id, name, kind, model, dedicated_payer, custody, customer_org, root_email, contacts, kms_keys";

/// The selected columns, in `COLUMNS` order.
type AccountRow = (String, String, String, String, bool, String, Option<String>, String, String, String);

fn from_row(row: &Row) -> Result<Result<Account, StoreError>, rusqlite::Error> {
    let raw: AccountRow = (
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    );
    Ok(parse(raw))
}

fn parse(
    (id, name, kind, model, dedicated, custody, customer, email, contacts, keys): AccountRow,
) -> Result<Account, StoreError> {
    Ok(Account {
        account_id: id.parse().map_err(|_| corrupt("account_id"))?,
        name,
        kind: enum_from::<AccountKind>(kind, "kind")?,
        model: enum_from::<AccountModel>(model, "model")?,
        dedicated_payer: dedicated,
        custody: custody.parse::<CustodyMode>().map_err(|_| corrupt("custody"))?,
        customer_org: customer.map(|o| o.parse()).transpose().map_err(|_| corrupt("customer_org"))?,
        root_email: email.parse().map_err(|_| corrupt("root_email"))?,
        contacts: serde_json::from_str(&contacts).map_err(|_| corrupt("contacts"))?,
        kms_keys: serde_json::from_str(&keys).map_err(|_| corrupt("kms_keys"))?,
    })
}

/// One account by id.
pub fn get(conn: &Connection, id: &AccountId) -> Result<Option<Account>, StoreError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM accounts WHERE account_id = ?1"), [id.as_str()], from_row)
        .optional()?
        .transpose()
}

/// All accounts, in id order.
pub fn list(conn: &Connection) -> Result<Vec<Account>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM accounts ORDER BY account_id"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.map(|r| r.map_err(StoreError::from).and_then(|a| a)).collect()
}

/// `active`, `returned` (handed back to the customer) or `closed`.
pub fn status(conn: &Connection, id: &AccountId) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT status FROM accounts WHERE account_id = ?1", [id.as_str()], |r| r.get(0)).optional()?)
}

/// End custody of an account: destroy the wrapped data keys of every half
/// version (crypto-shredding: the ciphertexts can never be opened again),
/// drop pending rotations and custodians, and record the new status.
pub fn end_custody(tx: &Transaction, id: &AccountId, status: &str) -> Result<(), StoreError> {
    tx.execute("UPDATE half_versions SET wrapped_key = x'', ciphertext = x'' WHERE account_id = ?1", [id.as_str()])?;
    tx.execute("DELETE FROM pending_rotations WHERE account_id = ?1", [id.as_str()])?;
    super::fingerprints::forget(tx, id)?;
    tx.execute("DELETE FROM custodians WHERE account_id = ?1", [id.as_str()])?;
    tx.execute("UPDATE accounts SET status = ?2 WHERE account_id = ?1", params![id.as_str(), status])?;
    Ok(())
}
