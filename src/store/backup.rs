//! Online, consistent copies of the database file (SQLite only: its backup
//! API), and reading such a copy.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::backup::Backup;

use super::{Conn, StoreError};

/// Copy the whole database as of one read snapshot into `dest`. Runs
/// alongside the service: in WAL mode the copy reads a consistent snapshot
/// while writers go on, and copying every page in one step means it never
/// restarts under load.
pub fn snapshot(conn: &Conn, dest: &Path) -> Result<(), StoreError> {
    let conn = conn.as_sqlite().ok_or(StoreError::SqliteOnly("an online backup file"))?;
    let mut out = Connection::open(dest)?;
    let backup = Backup::new(conn, &mut out)?;
    // -1 copies every page in one step, from one snapshot; a busy or locked
    // answer is retried a bounded number of times.
    let mut tries = 0;
    loop {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => break,
            _ if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => return Err(StoreError::Corrupt("the backup could not get a consistent snapshot".into())),
        }
    }
    drop(backup);
    out.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Run `f` on a copy made by [`snapshot`] (or any database file) at `path`.
pub fn read_copy<T>(path: &Path, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
    let conn = Connection::open(path)?;
    f(&Conn::sqlite(&conn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::params;

    #[test]
    fn a_snapshot_copies_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let dest = dir.path().join("copy.db");
        store.blocking(|c| snapshot(c, &dest)).unwrap();
        let version: i64 = read_copy(&dest, |c| c.query_one("PRAGMA user_version", params![])?.get(0)).unwrap();
        assert!(version >= 4);
    }
}
