-- The bare change by hand: what `runbook run --yes` does for the seed runbook (Data Sync Test
-- skipped, monitoring sampled once) WITHOUT the two fingerprints, as plain sqlite3 CLI work,
-- for benches/run-vs-sqlite3.sh. sqlite3-equivalent.sql is the same with the fingerprints.
-- Run from the bench folder: the backup goes to runs/sqlite3/.
.bail on
SELECT type, name, tbl_name, sql FROM sqlite_master;
SELECT * FROM pragma_table_info('all_users');
SELECT * FROM pragma_index_list('all_users');
-- 1. Backup Database, verified.
VACUUM INTO 'runs/sqlite3/backup.sqlite3';
ATTACH 'runs/sqlite3/backup.sqlite3' AS backup;
PRAGMA backup.integrity_check;
SELECT count(*) FROM backup.all_users;
DETACH backup;
-- (the backup file's sha256 is taken by the benchmark's command line, with sha256sum)
-- 2. Add New Column.
BEGIN;
ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;
CREATE UNIQUE INDEX ux_all_users_pcc_user_uuid ON all_users (pcc_user_uuid);
COMMIT;
-- 3. Verify Column Addition.
SELECT * FROM pragma_table_info('all_users') WHERE name = 'pcc_user_uuid';
SELECT * FROM pragma_index_list('all_users') WHERE name = 'ux_all_users_pcc_user_uuid';
-- 6. Validation: the report queries.
SELECT substr(email, instr(email, '@') + 1) AS domain, count(*) FROM all_users GROUP BY substr(email, instr(email, '@') + 1);
SELECT count(*) FROM all_users WHERE pcc_user_uuid IS NOT NULL;
-- 8. Post-Deployment Monitoring, one sample.
SELECT count(*) FROM all_users WHERE pcc_user_uuid IS NOT NULL AND length(pcc_user_uuid) <> 36;
SELECT count(*) - count(DISTINCT pcc_user_uuid) FROM all_users WHERE pcc_user_uuid IS NOT NULL;
