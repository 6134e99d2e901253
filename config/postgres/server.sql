-- Server settings walwire needs, once per PostgreSQL server, as a superuser:
--
--   psql -d postgres -f config/postgres/server.sql
--
-- ALTER SYSTEM writes postgresql.auto.conf, which wins over postgresql.conf.
-- wal_level, max_replication_slots and max_wal_senders take effect only
-- after a restart; the last query lists what still waits for one. Managed
-- services (RDS, Cloud SQL, Azure) refuse ALTER SYSTEM: set the same values
-- in their parameter group / flags (RDS: rds.logical_replication = 1).

\set ON_ERROR_STOP on

-- Logical decoding needs the extra WAL information of wal_level = logical.
ALTER SYSTEM SET wal_level = 'logical';

-- One slot and one WAL sender for each walwire (a standby replica of walwire
-- uses the same slot, but holds a WAL sender while it waits), plus what
-- physical standbys and other consumers already use. Raised to at least 10;
-- a higher current value is kept.
SELECT format('ALTER SYSTEM SET %I = %s', name, greatest(setting::int, 10))
FROM pg_settings WHERE name IN ('max_replication_slots', 'max_wal_senders') \gexec

-- A slot keeps WAL until walwire confirms it. If walwire stays down (or its
-- sink stays unreachable), WAL grows without limit and can fill the disk.
-- This caps it: past the cap PostgreSQL invalidates the slot (wal_status
-- 'lost'), and walwire stops with an error and needs a new snapshot, which
-- is better than a full disk. Size it for the longest outage you want to
-- ride out at your write rate. -1 (the default) is no cap.
ALTER SYSTEM SET max_slot_wal_keep_size = '50GB';

-- walwire's status_interval (10 s) must stay well below this.
ALTER SYSTEM SET wal_sender_timeout = '60s';

SELECT pg_reload_conf();

SELECT name, setting AS current, pending_restart
FROM pg_settings
WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders',
               'max_slot_wal_keep_size', 'wal_sender_timeout')
ORDER BY name;
\echo 'Restart PostgreSQL for every row with pending_restart = t.'
