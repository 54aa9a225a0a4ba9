-- River's GIN indexes on river_job.args and river_job.metadata serve only filtering jobs by
-- their arguments or metadata (River UI, JobList filters), which Switchboard never does. Every
-- job is written three times (inserted, fetched, completed), and no update of river_job is HOT
-- (its state is indexed), so each write added entries to both: measured with make bench (32
-- senders), dropping them cut PostgreSQL's CPU per delivered webhook by about a fifth and the WAL
-- of River's job completions by 40 %. River's migrations run before ours (store.Migrate); a later
-- River migration that wants them back creates them again.
DROP INDEX IF EXISTS river_job_args_index;
DROP INDEX IF EXISTS river_job_metadata_index;
