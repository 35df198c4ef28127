-- The lease that says which node of a cluster is active, and the nodes seen
-- lately (DESIGN §17, `crate::ha::lease`). PostgreSQL only: SQLite has one
-- node and no lease, and its migration 14 changes nothing, so one number
-- still names one schema on both backends.
--
-- One lease row, never deleted: its term only grows. Expiry is judged by the
-- database's clock (`clock_timestamp()`), never the nodes'.

CREATE TABLE ha_lease (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    holder      TEXT COLLATE "C" NOT NULL,
    node        TEXT COLLATE "C" NOT NULL,
    api_addr    TEXT COLLATE "C" NOT NULL,
    term        BIGINT NOT NULL,
    -- When the holder took the lease under this term.
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE ha_nodes (
    instance   TEXT COLLATE "C" PRIMARY KEY,
    node       TEXT COLLATE "C" NOT NULL,
    api_addr   TEXT COLLATE "C" NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);
