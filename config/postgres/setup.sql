-- Prepare a PostgreSQL database for walwire: a least-privilege role and the
-- publication. Run it as a superuser (or a role with CREATEROLE that owns
-- the tables), connected to the database walwire will stream:
--
--   psql -d app -v tables='public.users, public.orders' -f config/postgres/setup.sql
--   psql -d app -c '\password walwire'
--
-- Variables (psql -v):
--   tables       required: the tables to publish, "schema.table, ..."
--   password     the role's password. -v puts it on psql's command line,
--                where `ps` shows it; rather leave it out and run
--                \password walwire afterwards, or (psql 15+) take it from
--                the environment: feed psql "\getenv password PW_VARIABLE"
--                and then "\i config/postgres/setup.sql" on stdin, as
--                deploy/compose/initdb.sh does
--   role         default walwire
--   publication  default walwire  (walwire's [source] publication)
--
-- It can be run again: an existing role keeps its password unless one is
-- given, and an existing publication is set to exactly `tables`.
--
-- Before this script, once per server (see config/postgres/server.sql and
-- docs/deploy.md):
--   postgresql.conf  wal_level = logical (restart), max_replication_slots and
--                    max_wal_senders with one free for each walwire, and
--                    max_slot_wal_keep_size to cap the WAL a stalled slot keeps
--   pg_hba.conf      the role must reach this database from walwire's address;
--                    the replication=database connection walwire also opens
--                    matches the database name like a normal one (the
--                    "replication" keyword there is for physical standbys):
--                      host  app  walwire  10.0.0.0/8  scram-sha-256

\set ON_ERROR_STOP on
\if :{?tables}
\else
    DO $$ BEGIN RAISE EXCEPTION 'setup.sql: set the tables to publish: psql -v tables=''public.users, public.orders'' ...'; END $$;
\endif
\if :{?role}
\else
    \set role walwire
\endif
\if :{?publication}
\else
    \set publication walwire
\endif

BEGIN;

-- The role logs in and may open replication connections (REPLICATION); it
-- is not a superuser, creates nothing and owns nothing.
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE', :'role') \gexec
\if :{?password}
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password') \gexec
\endif

-- The publication of exactly these tables. Created here by a privileged
-- role, walwire needs neither ownership of the tables nor CREATE on the
-- database (set [source] create_publication = false to make sure it never
-- tries). FOR ALL TABLES would need a superuser, and publishes every table
-- created later too.
SELECT format('CREATE PUBLICATION %I FOR TABLE %s', :'publication', :'tables')
WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = :'publication') \gexec
SELECT format('ALTER PUBLICATION %I SET TABLE %s', :'publication', :'tables')
WHERE EXISTS (SELECT FROM pg_publication WHERE pubname = :'publication'
              AND NOT puballtables) \gexec

-- SELECT on the published tables, for the initial snapshot, and USAGE on
-- their schemas: nothing else. (A table added to the publication later needs
-- its own GRANT: run this script again with the new list. A table removed
-- from the list keeps its grant: REVOKE it yourself if it should.)
SELECT DISTINCT format('GRANT USAGE ON SCHEMA %I TO %I', schemaname, :'role')
FROM pg_publication_tables WHERE pubname = :'publication' \gexec
SELECT format('GRANT SELECT ON TABLE %I.%I TO %I', schemaname, tablename, :'role')
FROM pg_publication_tables WHERE pubname = :'publication' \gexec

COMMIT;

-- Published tables whose UPDATE and DELETE events would lack a key: without
-- a primary key (and REPLICA IDENTITY DEFAULT or NOTHING), PostgreSQL even
-- refuses UPDATE and DELETE on them while they are published. Give each a
-- primary key, or: ALTER TABLE ... REPLICA IDENTITY FULL;
\echo 'Published tables that need a primary key or REPLICA IDENTITY FULL (none is good):'
SELECT t.schemaname AS schema, t.tablename AS table,
       CASE c.relreplident WHEN 'd' THEN 'default, no primary key'
                           WHEN 'n' THEN 'nothing' END AS replica_identity
FROM pg_publication_tables t
JOIN pg_namespace n ON n.nspname = t.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
WHERE t.pubname = :'publication'
  AND (c.relreplident = 'n'
       OR (c.relreplident = 'd'
           AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1, 2;
