//! The append-only tables against a real server: the triggers refuse every
//! change, even the owner's, and the service role holds only INSERT and
//! SELECT on them (set up by deploy/postgres/roles.sql and the runner).

use postgres::error::SqlState;

use super::scratch::ScratchDb;
use super::{DatabaseUrl, PostgresSettings, grants, migrations};

const ROLES_SQL: &str = include_str!("../../../deploy/postgres/roles.sql");

/// One row in each append-only table, through `client`.
fn append_one_of_each(client: &mut impl postgres::GenericClient) {
    client
        .batch_execute(
            "INSERT INTO audit_events (seq, time, action, outcome, event_json) VALUES (0, 't', 'a', 'ok', '{}');
             INSERT INTO audit_scope (org, n, seq) VALUES ('globex', 1, 0);
             INSERT INTO checkpoints (size, root, note, created_at) VALUES (1, '\\x00', 'note', 't');",
        )
        .unwrap();
}

/// The SQLSTATE of a refused statement.
fn refused(client: &mut postgres::Client, sql: &str) -> (SqlState, String) {
    let error = client.batch_execute(sql).expect_err(sql);
    let db = error.as_db_error().unwrap_or_else(|| panic!("{sql}: {error}"));
    (db.code().clone(), db.message().to_owned())
}

const CHANGES: [&str; 9] = [
    "UPDATE audit_events SET action = 'b'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "UPDATE audit_scope SET n = 2",
    "DELETE FROM audit_scope",
    "TRUNCATE audit_scope",
    "UPDATE checkpoints SET note = 'forged'",
    "DELETE FROM checkpoints",
    "TRUNCATE checkpoints",
];

#[test]
fn the_audit_tables_refuse_updates_deletes_and_truncation_even_from_their_owner() {
    let Some(db) = ScratchDb::create() else { return };
    let mut client = db.connect();
    migrations::apply(&mut client).unwrap();
    append_one_of_each(&mut client);
    for sql in CHANGES {
        let (code, message) = refused(&mut client, sql);
        assert_eq!(code, SqlState::INTEGRITY_CONSTRAINT_VIOLATION, "{sql}");
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let events: i64 = client.query_one("SELECT count(*) FROM audit_events", &[]).unwrap().get(0);
    assert_eq!(events, 1);
}

#[test]
fn no_principal_is_stored_in_both_custodian_sets_of_an_account() {
    let Some(db) = ScratchDb::create() else { return };
    let mut client = db.connect();
    migrations::apply(&mut client).unwrap();
    client
        .batch_execute(
            "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, root_email, contacts,
                                   kms_keys, created_at, created_by)
             VALUES ('123456789012', 'a', 'payer', 'spam', 1, 'provider_split', 'r@x', '{}', '{}', 't', 'acme/ada');
             INSERT INTO custodians VALUES ('123456789012', 'password', 'acme/alice', 't', 'acme/ada');",
        )
        .unwrap();
    let (code, message) =
        refused(&mut client, "INSERT INTO custodians VALUES ('123456789012', 'mfa', 'acme/alice', 't', 'acme/ada')");
    assert_eq!((code, message.as_str()), (SqlState::INTEGRITY_CONSTRAINT_VIOLATION, "four_eyes_violation"));
}

#[test]
fn the_service_role_may_only_insert_and_read_the_audit_tables() {
    let Some(db) = ScratchDb::create() else { return };
    db.connect().batch_execute(ROLES_SQL).unwrap();
    db.connect().batch_execute(ROLES_SQL).unwrap();
    let mut owner = db.connect_as("rootvault_owner");
    migrations::apply(&mut owner).unwrap();
    grants::grant_service(&mut owner, "rootvault_service").unwrap();
    grants::grant_service(&mut owner, "rootvault_service").unwrap();
    let schema: String = owner.query_one("SELECT current_schema()::text", &[]).unwrap().get(0);
    assert_eq!(schema, "rootvault");

    let mut service = db.connect_as("rootvault_service");
    append_one_of_each(&mut service);
    let seen: i64 = service.query_one("SELECT count(*) FROM audit_events", &[]).unwrap().get(0);
    assert_eq!(seen, 1);
    let owner_only = [
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete ON audit_events",
        "INSERT INTO rootvault_migrations (version, name) VALUES (99, 'forged')",
        "CREATE TABLE shadow (x BIGINT)",
    ];
    for sql in CHANGES.iter().chain(&owner_only) {
        assert_eq!(refused(&mut service, sql).0, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}");
    }

    // Elsewhere it does what a service does, identity columns included.
    service
        .batch_execute(
            "INSERT INTO accounts (account_id, name, kind, model, dedicated_payer, custody, root_email, contacts,
                                   kms_keys, created_at, created_by)
             VALUES ('123456789012', 'a', 'payer', 'spam', 1, 'provider_split', 'r@x', '{}', '{}', 't', 'acme/ada');
             UPDATE accounts SET name = 'b';
             INSERT INTO links (id_hash, purpose, account_id, half, created_by, created_at, expires_at,
                                recipient_name, recipient_email, state)
             VALUES ('h', 'collect', '123456789012', 'password', 'acme/ada', 't', 0, 'Jane', 'j@x', 'pending');
             DELETE FROM links;
             INSERT INTO custodians VALUES ('123456789012', 'password', 'acme/alice', 't', 'acme/ada');",
        )
        .unwrap();
}

#[test]
fn a_pool_connects_as_the_service_with_the_configured_size() {
    let Some(db) = ScratchDb::create() else { return };
    let url = DatabaseUrl::parse(&db.url(None), std::path::Path::new("/"), false).unwrap();
    let settings = PostgresSettings { url, migration_url: None, pool_size: 2 };
    migrations::apply(&mut super::connect(settings.migration_url()).unwrap()).unwrap();
    let pool = super::Pool::new(&settings);
    assert_eq!(pool.max_size(), 2);
    let mut conn = pool.get().unwrap();
    let version: i64 = crate::store::Conn::postgres(&mut conn)
        .query_one("SELECT max(version) FROM rootvault_migrations", crate::store::sql::params![])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(version, i64::from(migrations::LATEST));
}
