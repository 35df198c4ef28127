-- The two roles of a rootvault database and the schema they share
-- (docs/postgres.md). Optional: any DBA may do the same by hand.
--
-- Run once as a superuser (or a managed service's admin user, such as the
-- Amazon RDS master user), connected to the database rootvault will use:
--
--   psql -d postgres -c 'CREATE DATABASE rootvault'
--   psql -d rootvault -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
--   psql -d rootvault -c '\password rootvault_owner'
--   psql -d rootvault -c '\password rootvault_service'
--
-- (`\password` sends only a SCRAM hash: no password lands in this file, the
-- shell history or the server log.) Running it again changes nothing.
--
--   rootvault_owner    owns the schema `rootvault` and everything in it;
--                      `rootvault migrate` connects as it.
--   rootvault_service  `rootvault serve` connects as it. It may use the
--                      schema but not create in it; `rootvault migrate`
--                      grants it INSERT and SELECT on the append-only tables
--                      and SELECT, INSERT, UPDATE, DELETE on the others.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rootvault_owner') THEN
        CREATE ROLE rootvault_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rootvault_service') THEN
        CREATE ROLE rootvault_service LOGIN;
    END IF;
    -- A managed service's admin user is no superuser: to make a schema
    -- owned by another role it must be a member of that role.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT rootvault_owner TO %I', current_user);
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS rootvault AUTHORIZATION rootvault_owner;
REVOKE ALL ON SCHEMA rootvault FROM PUBLIC;
GRANT USAGE ON SCHEMA rootvault TO rootvault_service;
-- Nobody but the owner creates objects that could shadow rootvault's.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO rootvault_owner, rootvault_service', current_database());
    EXECUTE format('ALTER ROLE rootvault_owner IN DATABASE %I SET search_path = rootvault', current_database());
    EXECUTE format('ALTER ROLE rootvault_service IN DATABASE %I SET search_path = rootvault', current_database());
END
$$;
