-- Prepare a PostgreSQL database for walwire, as a superuser, with psql:
--
--   psql -v password="'change-me'" -v tables='public.users, public.orders' \
--        -d app -f config/postgres/setup.sql
--
-- 1. postgresql.conf (needs a restart):
--      wal_level = logical
--      max_replication_slots = 10      -- at least one per walwire
--      max_wal_senders = 10            -- at least one per walwire, plus its snapshot
--      max_slot_wal_keep_size = 50GB   -- optional cap on WAL a stalled slot retains
-- 2. pg_hba.conf: allow the role for the database and for replication
--    connections, e.g. "host app walwire 10.0.0.0/8 scram-sha-256"
--    (replication=database connections match the database name).
-- 3. This script: a least-privilege role and the publication.

\set ON_ERROR_STOP on

-- The role logs in and may replicate; it owns nothing.
CREATE ROLE walwire WITH LOGIN REPLICATION PASSWORD :password;

-- SELECT on the published tables is needed for the initial snapshot.
-- (Repeat for every schema that holds published tables.)
GRANT USAGE ON SCHEMA public TO walwire;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO walwire;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO walwire;

-- The publication: name the tables (FOR ALL TABLES needs a superuser to
-- create). walwire creates it itself when [source] create_publication is
-- true and the role owns the tables; creating it here keeps the role small.
CREATE PUBLICATION walwire FOR TABLE :tables;

-- Tables without a primary key stream with a null key, and UPDATE/DELETE on
-- them fail while they are published. Give them a key, or:
--   ALTER TABLE some_table REPLICA IDENTITY FULL;
