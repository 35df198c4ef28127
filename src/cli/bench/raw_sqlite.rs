//! The floor of a durable append on SQLite: the same group commit as the
//! store's writer (one thread, one connection, WAL with
//! `synchronous=FULL`, every write that waits joins the next transaction,
//! at most as many as the store takes) inserting the same event JSON into
//! a bare table, with none of the log's work: no savepoints, no sequence
//! or scope counters, no canonical form, no MAC, no Merkle tree. The
//! ratio of the store's rate to this one is what the log's work costs.

use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::appends::draft;
use super::data_dir::DataDir;
use crate::audit::Outcome;
use crate::store::MAX_BATCH;
use crate::vault::now_rfc3339;

type Ack = oneshot::Sender<bool>;

/// Appends per second and the mean group size, with `writers` concurrent
/// writers appending `each` events.
#[derive(Debug, Clone, Copy)]
pub struct RawAppends {
    pub per_second: f64,
    pub mean_group: f64,
}

pub async fn measure(writers: u64, each: u64) -> anyhow::Result<RawAppends> {
    let dir = DataDir::create()?;
    let conn = Connection::open(dir.path().join("raw.db")).context("cannot open the raw SQLite file")?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, event TEXT NOT NULL) STRICT;",
    )?;
    let (queue, work) = mpsc::channel::<(String, Ack)>();
    let writer = std::thread::spawn(move || commit_groups(&conn, &work));
    // One event as the store would write it, the same for every append.
    let event = draft(0).seal(0, &now_rfc3339(), Outcome::Ok, None).leaf_json()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (queue, event) = (queue.clone(), event.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                let (ack, acked) = oneshot::channel();
                queue.send((event.clone(), ack)).map_err(|_| anyhow::anyhow!("the raw writer stopped"))?;
                anyhow::ensure!(acked.await.unwrap_or(false), "a raw append was not committed");
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let per_second = (writers * each) as f64 / started.elapsed().as_secs_f64();
    drop(queue);
    let groups = writer.join().map_err(|_| anyhow::anyhow!("the raw writer panicked"))??;
    Ok(RawAppends { per_second, mean_group: (writers * each) as f64 / groups.max(1) as f64 })
}

/// Commit what waits, in groups, until every writer is gone; returns how
/// many groups were committed.
fn commit_groups(conn: &Connection, work: &mpsc::Receiver<(String, Ack)>) -> anyhow::Result<u64> {
    let mut groups = 0;
    while let Ok(first) = work.recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match work.try_recv() {
                Ok(item) => group.push(item),
                Err(_) => break,
            }
        }
        let committed = (|| -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut insert = conn.prepare_cached("INSERT INTO events (event) VALUES (?1)")?;
            for (event, _) in &group {
                insert.execute([event])?;
            }
            conn.execute_batch("COMMIT")
        })()
        .is_ok();
        groups += 1;
        for (_, ack) in group {
            let _ = ack.send(committed);
        }
    }
    Ok(groups)
}
