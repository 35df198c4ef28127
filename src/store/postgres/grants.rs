//! The service role's privileges (DESIGN §17, docs/postgres.md).
//!
//! Two roles: the migration role owns the schema and runs `rootvault
//! migrate`; the service role, which `rootvault serve` connects as, gets
//! INSERT and SELECT only on the append-only tables (so even without the
//! triggers it could not change the log), SELECT on the version table,
//! SELECT, INSERT and UPDATE on the HA lease (never DELETE: terms only
//! grow), and SELECT, INSERT, UPDATE and DELETE on the rest. Never TRUNCATE, REFERENCES
//! or TRIGGER, and never ownership, so it cannot drop or disable a trigger.

use postgres::Client;

use super::migrations::VERSION_TABLE;
use crate::store::StoreError;

/// The tables no one changes or empties: the audit log, its scope index and
/// the signed checkpoints (each guarded by triggers as well).
pub const APPEND_ONLY: [&str; 3] = ["audit_events", "audit_scope", "checkpoints"];

/// What the service role may do on `table`.
fn privileges(table: &str) -> &'static str {
    if APPEND_ONLY.contains(&table) {
        "SELECT, INSERT"
    } else if table == VERSION_TABLE {
        "SELECT"
    } else if table == "ha_lease" {
        // The lease row is taken and renewed, never removed: terms only grow.
        "SELECT, INSERT, UPDATE"
    } else {
        "SELECT, INSERT, UPDATE, DELETE"
    }
}

/// Grant `role` exactly its privileges on every table the connected role
/// owns in the current schema, revoking anything else it was given there.
/// Run by the owner after migrating; idempotent.
pub fn grant_service(client: &mut Client, role: &str) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    let tables: Vec<String> = tx
        .query(
            "SELECT tablename::text FROM pg_tables
              WHERE schemaname = current_schema() AND tableowner = current_user ORDER BY tablename",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let role = quote_ident(role);
    for table in &tables {
        let name = quote_ident(table);
        tx.batch_execute(&format!(
            "REVOKE ALL ON TABLE {name} FROM {role}; GRANT {} ON TABLE {name} TO {role};",
            privileges(table)
        ))?;
    }
    tx.commit()?;
    Ok(())
}

/// An SQL identifier, quoted (role names come from the configuration).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_whole() {
        assert_eq!(quote_ident("rootvault_service"), "\"rootvault_service\"");
        assert_eq!(quote_ident("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
    }

    #[test]
    fn the_append_only_tables_get_no_update_or_delete() {
        for table in APPEND_ONLY {
            assert_eq!(privileges(table), "SELECT, INSERT");
        }
        assert_eq!(privileges(VERSION_TABLE), "SELECT");
        assert_eq!(privileges("ha_lease"), "SELECT, INSERT, UPDATE");
        assert_eq!(privileges("accounts"), "SELECT, INSERT, UPDATE, DELETE");
    }
}
