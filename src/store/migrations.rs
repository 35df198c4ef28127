//! Versioned schema migrations of the SQLite database, applied in order on
//! start (SQLite only).
//!
//! The schema version lives in SQLite's `user_version`. Each migration runs
//! in one transaction with its version bump, so a crash mid-migration leaves
//! the previous version intact. Migrations are append-only: never edit one
//! that has shipped.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: accounts, custody, halves, history, exposures, audit log, key ring.
    r#"
    CREATE TABLE accounts (
        account_id      TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('payer', 'member')),
        model           TEXT NOT NULL CHECK (model IN ('spam', 'ecam')),
        dedicated_payer INTEGER NOT NULL,
        custody         TEXT NOT NULL CHECK (custody IN ('provider_split', 'co_owned', 'shared_payer', 'customer_owned')),
        customer_org    TEXT,
        root_email      TEXT NOT NULL,
        contacts        TEXT NOT NULL,
        kms_keys        TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'active',
        created_at      TEXT NOT NULL,
        created_by      TEXT NOT NULL
    ) STRICT;

    CREATE TABLE custodians (
        account_id  TEXT NOT NULL REFERENCES accounts(account_id),
        half        TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        principal   TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        assigned_by TEXT NOT NULL,
        PRIMARY KEY (account_id, half, principal)
    ) STRICT;

    -- Invariant 1 again at the storage layer: whatever the code above does,
    -- no principal is stored in both custodian sets of one account.
    CREATE TRIGGER custodians_disjoint BEFORE INSERT ON custodians
    WHEN EXISTS (SELECT 1 FROM custodians
                 WHERE account_id = NEW.account_id AND principal = NEW.principal AND half <> NEW.half)
    BEGIN SELECT RAISE(ABORT, 'four_eyes_violation'); END;

    CREATE TABLE halves (
        account_id      TEXT NOT NULL REFERENCES accounts(account_id),
        half            TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        current_version INTEGER,
        rotation_due    INTEGER NOT NULL DEFAULT 0,
        updated_at      TEXT NOT NULL,
        PRIMARY KEY (account_id, half)
    ) STRICT;

    CREATE TABLE half_versions (
        account_id  TEXT NOT NULL REFERENCES accounts(account_id),
        half        TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        version     INTEGER NOT NULL CHECK (version > 0),
        state       TEXT NOT NULL CHECK (state IN ('current', 'superseded')),
        ciphertext  BLOB NOT NULL,
        wrapped_key BLOB NOT NULL,
        key_id      TEXT NOT NULL,
        source      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        PRIMARY KEY (account_id, half, version)
    ) STRICT;

    CREATE TABLE password_history (
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        version    INTEGER NOT NULL,
        hash       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (account_id, version)
    ) STRICT;

    CREATE TABLE exposures (
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        principal  TEXT NOT NULL,
        half       TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        version    INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('deposited', 'received')),
        at         TEXT NOT NULL,
        PRIMARY KEY (account_id, principal, half, version, kind)
    ) STRICT;

    CREATE TABLE audit_events (
        seq        INTEGER PRIMARY KEY,
        time       TEXT NOT NULL,
        actor      TEXT,
        action     TEXT NOT NULL,
        account_id TEXT,
        outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
        event_json TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_events_by_account ON audit_events (account_id, seq);

    -- The audit log is append-only: no row is ever changed or removed.
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE TABLE keyring (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        provider   TEXT NOT NULL,
        sealed     TEXT,
        created_at TEXT NOT NULL
    ) STRICT;
    "#,
    // 2: break-glass requests, pending password rotations, webhook
    // subscribers and their durable outbox.
    r#"
    CREATE TABLE requests (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        state      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX requests_by_account ON requests (account_id, created_at);
    CREATE INDEX requests_by_state ON requests (state);

    CREATE TABLE pending_rotations (
        account_id   TEXT NOT NULL REFERENCES accounts(account_id),
        half         TEXT NOT NULL CHECK (half = 'password'),
        version      INTEGER NOT NULL,
        ciphertext   BLOB NOT NULL,
        wrapped_key  BLOB NOT NULL,
        key_id       TEXT NOT NULL,
        history_hash TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        created_by   TEXT NOT NULL,
        PRIMARY KEY (account_id, half)
    ) STRICT;

    CREATE TABLE subscribers (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        org        TEXT NOT NULL,
        url        TEXT NOT NULL,
        secret     TEXT NOT NULL,
        events     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        deleted_at TEXT
    ) STRICT;
    CREATE INDEX subscribers_by_account ON subscribers (account_id);

    CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,
        subscriber_id   TEXT NOT NULL REFERENCES subscribers(id),
        event           TEXT NOT NULL,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        delivered_at    TEXT,
        last_error      TEXT
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
    "#,
    // 3: tamper evidence: a MAC per audit row, signed checkpoints, and the
    // wrapped audit log key.
    r#"
    ALTER TABLE audit_events ADD COLUMN mac BLOB;

    CREATE TABLE checkpoints (
        size       INTEGER PRIMARY KEY,
        root       BLOB NOT NULL,
        note       TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) STRICT;
    CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

    CREATE TABLE audit_key (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        wrapped    BLOB NOT NULL,
        key_id     TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) STRICT;
    "#,
    // 4: one-time links and the reverse-assumption workflow.
    r#"
    CREATE TABLE links (
        id_hash         TEXT PRIMARY KEY,
        purpose         TEXT NOT NULL CHECK (purpose IN ('deliver', 'collect')),
        account_id      TEXT NOT NULL REFERENCES accounts(account_id),
        half            TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        created_by      TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        expires_at      INTEGER NOT NULL,
        recipient_name  TEXT NOT NULL,
        recipient_email TEXT NOT NULL,
        request_id      TEXT,
        handoff         INTEGER NOT NULL DEFAULT 0,
        ciphertext      BLOB,
        passphrase_hash TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'opened', 'revoked', 'burned')),
        used_at         TEXT,
        revoked_at      TEXT
    ) STRICT;
    CREATE INDEX links_by_account ON links (account_id);

    CREATE TABLE reverse_assumptions (
        account_id   TEXT PRIMARY KEY REFERENCES accounts(account_id),
        body         TEXT NOT NULL,
        link_id_hash TEXT,
        sealed_url   BLOB
    ) STRICT;
    "#,
    // 5: half versions whose ciphertext lives in AWS Secrets Manager.
    r#"
    ALTER TABLE half_versions ADD COLUMN sm_version_id TEXT;
    ALTER TABLE pending_rotations ADD COLUMN sm_version_id TEXT;
    "#,
    // 6: the wall by secret as well as by version number (DESIGN §3,
    // invariant 2): a keyed fingerprint of every half version, exposures of
    // collect-link makers and exposures carried to a version whose secret
    // equals one seen before, and collect links bound to the version of
    // their half they were made against. Pending collect links made before
    // they could be bound are revoked; a hand-off's link is bound to the
    // half as it is now.
    r#"
    CREATE TABLE secret_fingerprints (
        account_id  TEXT NOT NULL REFERENCES accounts(account_id),
        half        TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        version     INTEGER NOT NULL,
        fingerprint BLOB NOT NULL,
        PRIMARY KEY (account_id, half, version)
    ) STRICT;
    CREATE INDEX secret_fingerprints_by_value ON secret_fingerprints (account_id, half, fingerprint);

    CREATE TABLE exposures_v6 (
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        principal  TEXT NOT NULL,
        half       TEXT NOT NULL CHECK (half IN ('password', 'mfa')),
        version    INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('deposited', 'received', 'collected', 'carried')),
        at         TEXT NOT NULL,
        PRIMARY KEY (account_id, principal, half, version, kind)
    ) STRICT;
    INSERT INTO exposures_v6 (account_id, principal, half, version, kind, at)
        SELECT account_id, principal, half, version, kind, at FROM exposures;
    DROP TABLE exposures;
    ALTER TABLE exposures_v6 RENAME TO exposures;

    ALTER TABLE links ADD COLUMN base_version INTEGER;
    ALTER TABLE links ADD COLUMN made_as_admin INTEGER NOT NULL DEFAULT 0;
    UPDATE links SET state = 'revoked', ciphertext = NULL, revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE purpose = 'collect' AND state = 'pending' AND handoff = 0;
    UPDATE links SET base_version = COALESCE((SELECT h.current_version FROM halves h
                                               WHERE h.account_id = links.account_id AND h.half = links.half), 0)
     WHERE purpose = 'collect' AND handoff = 1;

    ALTER TABLE pending_rotations ADD COLUMN fingerprint BLOB;
    "#,
    // 7: audit scope: which orgs each event is scoped to, with each org's dense
    // counter, so exports select an org's events by index and prove that
    // none is missing. New rows are written with their event, in the same
    // savepoint. Events stored before this migration carry no scope in
    // their leaf (leaves are never rewritten): they are indexed here by the
    // same rule, without a counter (n NULL); the provider sees every event
    // and needs no index rows for them.
    r#"
    CREATE TABLE audit_scope (
        org TEXT NOT NULL,
        n   INTEGER CHECK (n > 0),
        seq INTEGER NOT NULL,
        UNIQUE (org, n)
    ) STRICT;
    -- Not unique: rows left behind by a cut log must not stop the service
    -- from recording what follows (readers match a row to its event by the
    -- counter the event's own scope carries).
    CREATE INDEX audit_scope_by_seq ON audit_scope (org, seq);
    CREATE TRIGGER audit_scope_no_update BEFORE UPDATE ON audit_scope
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_scope_no_delete BEFORE DELETE ON audit_scope
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    INSERT OR IGNORE INTO audit_scope (org, n, seq)
        SELECT a.customer_org, NULL, e.seq FROM audit_events e JOIN accounts a ON a.account_id = e.account_id
         WHERE a.customer_org IS NOT NULL;
    INSERT OR IGNORE INTO audit_scope (org, n, seq)
        SELECT substr(actor, 1, instr(actor, '/') - 1), NULL, seq FROM audit_events
         WHERE account_id IS NULL AND instr(actor, '/') > 1;
    "#,
    // 8: the audit log key's boundary: the log size when the key came into
    // being (rows before it may lack a MAC), kept under the key's MAC.
    r#"
    ALTER TABLE audit_key ADD COLUMN boundary INTEGER;
    ALTER TABLE audit_key ADD COLUMN boundary_mac BLOB;
    "#,
    // 9: people's sign-ins (docs/signin.md): console and CLI sessions, whose
    // ids are kept only as SHA-256; sign-ins waiting for the identity
    // provider's answer; one-time codes of `rootvault login`; and the
    // service's own keys, wrapped by the key provider. Times are Unix
    // seconds.
    r#"
    CREATE TABLE sessions (
        id_hash      TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('console', 'cli')),
        principal    TEXT NOT NULL,
        roles        TEXT NOT NULL,
        display      TEXT,
        auth_time    INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        end_reason   TEXT
    ) STRICT;

    CREATE TABLE signin_pending (
        state_hash   TEXT PRIMARY KEY,
        browser_hash TEXT NOT NULL,
        org          TEXT NOT NULL,
        nonce        TEXT NOT NULL,
        return_to    TEXT NOT NULL,
        max_age      INTEGER,
        cli          TEXT,
        created_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE cli_codes (
        code_hash  TEXT PRIMARY KEY,
        principal  TEXT NOT NULL,
        roles      TEXT NOT NULL,
        display    TEXT,
        auth_time  INTEGER NOT NULL,
        challenge  TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE service_keys (
        name       TEXT PRIMARY KEY,
        blob       BLOB NOT NULL,
        key_id     TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) STRICT;
    "#,
    // 10: notifications to people. The outbox carries e-mail and chat
    // deliveries besides webhooks (`target`: the subscriber, the address or
    // the chat channel's name); events wait in `announcements` until the
    // notifier has routed them to people; `people` keeps the e-mail address
    // a person's identity provider vouched for at their last sign-in.
    r#"
    CREATE TABLE outbox_v10 (
        id              TEXT PRIMARY KEY,
        channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'chat')),
        subscriber_id   TEXT REFERENCES subscribers(id),
        target          TEXT NOT NULL,
        account_id      TEXT,
        event           TEXT NOT NULL,
        subject         TEXT,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        delivered_at    TEXT,
        last_error      TEXT,
        CHECK ((channel = 'webhook') = (subscriber_id IS NOT NULL))
    ) STRICT;
    INSERT INTO outbox_v10 (id, channel, subscriber_id, target, account_id, event, payload, state, attempts,
                            next_attempt_at, created_at, delivered_at, last_error)
        SELECT o.id, 'webhook', o.subscriber_id, o.subscriber_id, s.account_id, o.event, o.payload, o.state,
               o.attempts, o.next_attempt_at, o.created_at, o.delivered_at, o.last_error
          FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id;
    DROP TABLE outbox;
    ALTER TABLE outbox_v10 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
    CREATE INDEX outbox_by_created ON outbox (created_at, id);

    CREATE TABLE announcements (
        id         TEXT PRIMARY KEY,
        event      TEXT NOT NULL,
        account_id TEXT NOT NULL,
        payload    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        routed_at  TEXT
    ) STRICT;
    CREATE INDEX announcements_unrouted ON announcements (created_at, id) WHERE routed_at IS NULL;

    CREATE TABLE people (
        principal  TEXT PRIMARY KEY,
        email      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    "#,
    // 11: the root sign-in watch (docs/root-signin-watch.md): each root
    // event of an account in custody, once per CloudTrail event id, with
    // its classification. `event_time` is Unix seconds (AWS's clock);
    // `recorded_at` is when the service recorded it.
    r#"
    CREATE TABLE root_signins (
        id             TEXT PRIMARY KEY,
        account_id     TEXT NOT NULL REFERENCES accounts(account_id),
        event_id       TEXT NOT NULL UNIQUE,
        event_name     TEXT NOT NULL CHECK (event_name IN ('ConsoleLogin', 'PasswordRecoveryRequested',
                                           'PasswordRecoveryCompleted', 'PasswordUpdated', 'EmailUpdated')),
        event_time     INTEGER NOT NULL,
        recorded_at    TEXT NOT NULL,
        outcome        TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
        classification TEXT NOT NULL CHECK (classification IN ('expected', 'unexplained', 'failed')),
        request_id     TEXT,
        source_ip      TEXT,
        mfa_used       INTEGER CHECK (mfa_used IN (0, 1)),
        region         TEXT
    ) STRICT;
    CREATE INDEX root_signins_by_account ON root_signins (account_id, event_time, id);
    "#,
    // 12: the account's lifecycle (docs/lifecycle.md). Onboarding state per
    // account (accounts registered before onboarding existed count as
    // onboarded) and its checklist; public-sector and AWS India flags, whose
    // hand-backs need a consent to assignment; when a closed account was
    // closed (it may be reopened for 90 days, its halves kept); DDI moves.
    // Accounts closed before this change had their keys destroyed at closure,
    // so they are closed for good.
    r#"
    ALTER TABLE accounts ADD COLUMN onboarding TEXT NOT NULL DEFAULT 'completed'
        CHECK (onboarding IN ('not_started', 'in_progress', 'completed'));
    ALTER TABLE accounts ADD COLUMN public_sector INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN aws_india INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN closed_at INTEGER;
    UPDATE accounts SET status = 'closed_permanently' WHERE status = 'closed';

    CREATE TABLE onboardings (
        account_id TEXT PRIMARY KEY REFERENCES accounts(account_id),
        body       TEXT NOT NULL
    ) STRICT;

    CREATE TABLE moves (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        state      TEXT NOT NULL CHECK (state IN ('requested', 'confirmed', 'completed', 'cancelled')),
        created_at INTEGER NOT NULL,
        body       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX moves_by_account ON moves (account_id, created_at);
    "#,
    // 13: the outbox's queue order as a column of its own. Deliveries due at
    // the same moment go out in the order they were queued; that order was
    // SQLite's implicit rowid, which PostgreSQL has no counterpart of. `seq`
    // is now that rowid (an alias of it, keeping its values), and `id` stays
    // unique.
    r#"
    CREATE TABLE outbox_v13 (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'chat')),
        subscriber_id   TEXT REFERENCES subscribers(id),
        target          TEXT NOT NULL,
        account_id      TEXT,
        event           TEXT NOT NULL,
        subject         TEXT,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        delivered_at    TEXT,
        last_error      TEXT,
        CHECK ((channel = 'webhook') = (subscriber_id IS NOT NULL))
    ) STRICT;
    INSERT INTO outbox_v13 (seq, id, channel, subscriber_id, target, account_id, event, subject, payload, state,
                            attempts, next_attempt_at, created_at, delivered_at, last_error)
        SELECT rowid, id, channel, subscriber_id, target, account_id, event, subject, payload, state,
               attempts, next_attempt_at, created_at, delivered_at, last_error
          FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v13 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at, seq);
    CREATE INDEX outbox_by_created ON outbox (created_at, id);
    "#,
    // 14: PostgreSQL's HA lease and node list (DESIGN §17). A SQLite file
    // has one node and no lease: nothing changes here, and the number stays
    // in step with PostgreSQL's migrations.
    "",
];

/// Bring the schema up to the latest version. SQLite only: the
/// PostgreSQL schema has migrations of its own.
pub fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?.try_into().unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database schema (version {current}) is newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_the_audit_table_refuses_edits() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO audit_events (seq, time, action, outcome, event_json) VALUES (0, 't', 'a', 'ok', '{}')",
            [],
        )
        .unwrap();
        let update = conn.execute("UPDATE audit_events SET action = 'b'", []);
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = conn.execute("DELETE FROM audit_events", []);
        assert!(delete.unwrap_err().to_string().contains("append-only"));
    }

    /// A database migrated up to, not including, the migration that holds
    /// `marker`, as a service of that time left it.
    fn schema_before(marker: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        let at = MIGRATIONS.iter().position(|m| m.contains(marker)).unwrap();
        for sql in &MIGRATIONS[..at] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", at).unwrap();
        conn
    }

    #[test]
    fn events_stored_before_scopes_are_indexed_for_their_orgs_without_counters() {
        let mut conn = schema_before("CREATE TABLE audit_scope");
        conn.execute_batch(
            "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, customer_org, root_email,
                                   contacts, kms_keys, created_at, created_by)
             VALUES ('123456789012', 'a', 'payer', 'spam', 1, 'provider_split', 'globex', 'r@x', '{}', '{}', 't', 'acme/ada');
             INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json) VALUES
               (0, 't', 'acme/ada', 'account.create', '123456789012', 'ok', '{}'),
               (1, 't', 'initech/ian', 'account.list', NULL, 'ok', '{}'),
               (2, 't', NULL, 'auth.fail', NULL, 'denied', '{}');",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let rows: Vec<(String, Option<i64>, i64)> = conn
            .prepare("SELECT org, n, seq FROM audit_scope ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("globex".to_owned(), None, 0), ("initech".to_owned(), None, 1)]);
        let delete = conn.execute("DELETE FROM audit_scope", []);
        assert!(delete.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn accounts_from_before_the_lifecycle_count_as_onboarded_and_old_closures_as_final() {
        let mut conn = schema_before("CREATE TABLE onboardings");
        conn.execute_batch(
            "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, customer_org, root_email,
                                   contacts, kms_keys, status, created_at, created_by)
             VALUES ('123456789012', 'a', 'payer', 'spam', 1, 'provider_split', 'globex', 'r@x', '{}', '{}', 'active', 't', 'acme/ada'),
                    ('210987654321', 'b', 'payer', 'spam', 1, 'provider_split', 'globex', 'r@x', '{}', '{}', 'closed', 't', 'acme/ada');",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let rows: Vec<(String, String, i64, Option<i64>)> = conn
            .prepare("SELECT status, onboarding, public_sector, closed_at FROM accounts ORDER BY account_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("active".to_owned(), "completed".to_owned(), 0, None),
                ("closed_permanently".to_owned(), "completed".to_owned(), 0, None)
            ]
        );
    }

    #[test]
    fn queued_deliveries_keep_their_order_as_seq_and_new_ones_follow() {
        let mut conn = schema_before("CREATE TABLE outbox_v13");
        let queue = |id: &str| {
            format!(
                "INSERT INTO outbox (id, channel, target, event, payload, state, next_attempt_at, created_at)
                 VALUES ('{id}', 'email', 'a@x', 'e', '{{}}', 'pending', 0, 't')"
            )
        };
        conn.execute_batch(&format!("{}; {};", queue("b"), queue("a"))).unwrap();
        apply(&mut conn).unwrap();
        conn.execute_batch(&queue("c")).unwrap();
        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT seq, id FROM outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(1, "b".to_owned()), (2, "a".to_owned()), (3, "c".to_owned())]);
        assert!(conn.execute_batch(&queue("c")).is_err(), "ids stay unique");
    }
}
