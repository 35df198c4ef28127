-- The whole schema as SQLite has it after its migration 12, in one step.
--
-- Types: SQLite's INTEGER is BIGINT (booleans stay 0/1 BIGINT), BLOB is
-- BYTEA, TEXT is TEXT (JSON included). Every TEXT column collates "C", so
-- comparisons and ORDER BY go byte by byte as in SQLite, whatever locale the
-- database was created with. `links` and `outbox` carry a `rowid` identity
-- column: the code orders by SQLite's implicit rowid (insertion order) on
-- those two tables, and the same SQL reads the same here.

CREATE TABLE accounts (
    account_id      TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('payer', 'member')),
    model           TEXT COLLATE "C" NOT NULL CHECK (model IN ('spam', 'ecam')),
    dedicated_payer BIGINT NOT NULL,
    custody         TEXT COLLATE "C" NOT NULL CHECK (custody IN ('provider_split', 'co_owned', 'shared_payer', 'customer_owned')),
    customer_org    TEXT COLLATE "C",
    root_email      TEXT COLLATE "C" NOT NULL,
    contacts        TEXT COLLATE "C" NOT NULL,
    kms_keys        TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL DEFAULT 'active',
    created_at      TEXT COLLATE "C" NOT NULL,
    created_by      TEXT COLLATE "C" NOT NULL,
    onboarding      TEXT COLLATE "C" NOT NULL DEFAULT 'completed'
        CHECK (onboarding IN ('not_started', 'in_progress', 'completed')),
    public_sector   BIGINT NOT NULL DEFAULT 0,
    aws_india       BIGINT NOT NULL DEFAULT 0,
    closed_at       BIGINT
);

CREATE TABLE custodians (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half        TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    principal   TEXT COLLATE "C" NOT NULL,
    assigned_at TEXT COLLATE "C" NOT NULL,
    assigned_by TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, half, principal)
);

-- Invariant 1 again at the storage layer: whatever the code above does, no
-- principal is stored in both custodian sets of one account. SQLite runs one
-- writer at a time; here two transactions could each pass the check before
-- either commits, so the check first locks the account's row: custody
-- changes of one account take turns.
CREATE FUNCTION custodians_disjoint() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE account_id = NEW.account_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM custodians
               WHERE account_id = NEW.account_id AND principal = NEW.principal AND half <> NEW.half) THEN
        RAISE EXCEPTION 'four_eyes_violation' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER custodians_disjoint BEFORE INSERT ON custodians
    FOR EACH ROW EXECUTE FUNCTION custodians_disjoint();

CREATE TABLE halves (
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half            TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    current_version BIGINT,
    rotation_due    BIGINT NOT NULL DEFAULT 0,
    updated_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, half)
);

CREATE TABLE half_versions (
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half          TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    version       BIGINT NOT NULL CHECK (version > 0),
    state         TEXT COLLATE "C" NOT NULL CHECK (state IN ('current', 'superseded')),
    ciphertext    BYTEA NOT NULL,
    wrapped_key   BYTEA NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    source        TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    created_by    TEXT COLLATE "C" NOT NULL,
    sm_version_id TEXT COLLATE "C",
    PRIMARY KEY (account_id, half, version)
);

CREATE TABLE password_history (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    version    BIGINT NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, version)
);

CREATE TABLE exposures (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    principal  TEXT COLLATE "C" NOT NULL,
    half       TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    version    BIGINT NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL CHECK (kind IN ('deposited', 'received', 'collected', 'carried')),
    at         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, principal, half, version, kind)
);

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    time       TEXT COLLATE "C" NOT NULL,
    actor      TEXT COLLATE "C",
    action     TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C",
    outcome    TEXT COLLATE "C" NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
    event_json TEXT COLLATE "C" NOT NULL,
    mac        BYTEA
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, seq);

-- The append-only tables (the audit log, its scope index and the signed
-- checkpoints): no row is ever changed or removed, by UPDATE, DELETE or
-- TRUNCATE (which skips row triggers, so it has its own). The service's role
-- holds only INSERT and SELECT on them besides (see grants in the runner).
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit log is append-only');
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit log is append-only');
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the audit log is append-only');

CREATE TABLE keyring (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    provider   TEXT COLLATE "C" NOT NULL,
    sealed     TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE requests (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    state      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX requests_by_account ON requests (account_id, created_at);
CREATE INDEX requests_by_state ON requests (state);

CREATE TABLE pending_rotations (
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half          TEXT COLLATE "C" NOT NULL CHECK (half = 'password'),
    version       BIGINT NOT NULL,
    ciphertext    BYTEA NOT NULL,
    wrapped_key   BYTEA NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    history_hash  TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    created_by    TEXT COLLATE "C" NOT NULL,
    sm_version_id TEXT COLLATE "C",
    fingerprint   BYTEA,
    PRIMARY KEY (account_id, half)
);

CREATE TABLE subscribers (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    org        TEXT COLLATE "C" NOT NULL,
    url        TEXT COLLATE "C" NOT NULL,
    secret     TEXT COLLATE "C" NOT NULL,
    events     TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    created_by TEXT COLLATE "C" NOT NULL,
    deleted_at TEXT COLLATE "C"
);
CREATE INDEX subscribers_by_account ON subscribers (account_id);

CREATE TABLE outbox (
    id              TEXT COLLATE "C" PRIMARY KEY,
    channel         TEXT COLLATE "C" NOT NULL CHECK (channel IN ('webhook', 'email', 'chat')),
    subscriber_id   TEXT COLLATE "C" REFERENCES subscribers(id),
    target          TEXT COLLATE "C" NOT NULL,
    account_id      TEXT COLLATE "C",
    event           TEXT COLLATE "C" NOT NULL,
    subject         TEXT COLLATE "C",
    payload         TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    delivered_at    TEXT COLLATE "C",
    last_error      TEXT COLLATE "C",
    rowid           BIGINT GENERATED BY DEFAULT AS IDENTITY,
    CHECK ((channel = 'webhook') = (subscriber_id IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_created ON outbox (created_at, id);

CREATE TABLE checkpoints (
    size       BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL,
    note       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change('checkpoints are append-only');
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change('checkpoints are append-only');
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('checkpoints are append-only');

CREATE TABLE audit_key (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    wrapped      BYTEA NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    boundary     BIGINT,
    boundary_mac BYTEA
);

CREATE TABLE links (
    id_hash         TEXT COLLATE "C" PRIMARY KEY,
    purpose         TEXT COLLATE "C" NOT NULL CHECK (purpose IN ('deliver', 'collect')),
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half            TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    created_by      TEXT COLLATE "C" NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    expires_at      BIGINT NOT NULL,
    recipient_name  TEXT COLLATE "C" NOT NULL,
    recipient_email TEXT COLLATE "C" NOT NULL,
    request_id      TEXT COLLATE "C",
    handoff         BIGINT NOT NULL DEFAULT 0,
    ciphertext      BYTEA,
    passphrase_hash TEXT COLLATE "C",
    attempts        BIGINT NOT NULL DEFAULT 0,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'opened', 'revoked', 'burned')),
    used_at         TEXT COLLATE "C",
    revoked_at      TEXT COLLATE "C",
    base_version    BIGINT,
    made_as_admin   BIGINT NOT NULL DEFAULT 0,
    rowid           BIGINT GENERATED BY DEFAULT AS IDENTITY
);
CREATE INDEX links_by_account ON links (account_id);

CREATE TABLE reverse_assumptions (
    account_id   TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(account_id),
    body         TEXT COLLATE "C" NOT NULL,
    link_id_hash TEXT COLLATE "C",
    sealed_url   BYTEA
);

CREATE TABLE secret_fingerprints (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    half        TEXT COLLATE "C" NOT NULL CHECK (half IN ('password', 'mfa')),
    version     BIGINT NOT NULL,
    fingerprint BYTEA NOT NULL,
    PRIMARY KEY (account_id, half, version)
);
CREATE INDEX secret_fingerprints_by_value ON secret_fingerprints (account_id, half, fingerprint);

CREATE TABLE audit_scope (
    org TEXT COLLATE "C" NOT NULL,
    n   BIGINT CHECK (n > 0),
    seq BIGINT NOT NULL,
    UNIQUE (org, n)
);
-- Not unique: rows left behind by a cut log must not stop the service from
-- recording what follows (readers match a row to its event by the counter
-- the event's own scope carries).
CREATE INDEX audit_scope_by_seq ON audit_scope (org, seq);
CREATE TRIGGER audit_scope_no_update BEFORE UPDATE ON audit_scope
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit log is append-only');
CREATE TRIGGER audit_scope_no_delete BEFORE DELETE ON audit_scope
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit log is append-only');
CREATE TRIGGER audit_scope_no_truncate BEFORE TRUNCATE ON audit_scope
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the audit log is append-only');

CREATE TABLE sessions (
    id_hash      TEXT COLLATE "C" PRIMARY KEY,
    kind         TEXT COLLATE "C" NOT NULL CHECK (kind IN ('console', 'cli')),
    principal    TEXT COLLATE "C" NOT NULL,
    roles        TEXT COLLATE "C" NOT NULL,
    display      TEXT COLLATE "C",
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    end_reason   TEXT COLLATE "C"
);

CREATE TABLE signin_pending (
    state_hash   TEXT COLLATE "C" PRIMARY KEY,
    browser_hash TEXT COLLATE "C" NOT NULL,
    org          TEXT COLLATE "C" NOT NULL,
    nonce        TEXT COLLATE "C" NOT NULL,
    return_to    TEXT COLLATE "C" NOT NULL,
    max_age      BIGINT,
    cli          TEXT COLLATE "C",
    created_at   BIGINT NOT NULL
);

CREATE TABLE cli_codes (
    code_hash  TEXT COLLATE "C" PRIMARY KEY,
    principal  TEXT COLLATE "C" NOT NULL,
    roles      TEXT COLLATE "C" NOT NULL,
    display    TEXT COLLATE "C",
    auth_time  BIGINT NOT NULL,
    challenge  TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE service_keys (
    name       TEXT COLLATE "C" PRIMARY KEY,
    blob       BYTEA NOT NULL,
    key_id     TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE announcements (
    id         TEXT COLLATE "C" PRIMARY KEY,
    event      TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL,
    payload    TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    routed_at  TEXT COLLATE "C"
);
CREATE INDEX announcements_unrouted ON announcements (created_at, id) WHERE routed_at IS NULL;

CREATE TABLE people (
    principal  TEXT COLLATE "C" PRIMARY KEY,
    email      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE root_signins (
    id             TEXT COLLATE "C" PRIMARY KEY,
    account_id     TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    event_id       TEXT COLLATE "C" NOT NULL UNIQUE,
    event_name     TEXT COLLATE "C" NOT NULL CHECK (event_name IN ('ConsoleLogin', 'PasswordRecoveryRequested',
                                                 'PasswordRecoveryCompleted', 'PasswordUpdated', 'EmailUpdated')),
    event_time     BIGINT NOT NULL,
    recorded_at    TEXT COLLATE "C" NOT NULL,
    outcome        TEXT COLLATE "C" NOT NULL CHECK (outcome IN ('success', 'failure')),
    classification TEXT COLLATE "C" NOT NULL CHECK (classification IN ('expected', 'unexplained', 'failed')),
    request_id     TEXT COLLATE "C",
    source_ip      TEXT COLLATE "C",
    mfa_used       BIGINT CHECK (mfa_used IN (0, 1)),
    region         TEXT COLLATE "C"
);
CREATE INDEX root_signins_by_account ON root_signins (account_id, event_time, id);

CREATE TABLE onboardings (
    account_id TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(account_id),
    body       TEXT COLLATE "C" NOT NULL
);

CREATE TABLE moves (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id),
    state      TEXT COLLATE "C" NOT NULL CHECK (state IN ('requested', 'confirmed', 'completed', 'cancelled')),
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX moves_by_account ON moves (account_id, created_at);
