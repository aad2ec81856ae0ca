-- Merge mode: a load whose staged rows equal those of the newest load before it (a snapshot that changes nothing)
-- is applied by giving that load's rows its version instead of rewriting them. `rows_sha256` is the digest of a
-- merge load's staged rows (with the merge's key, order_by and delete marker); `rows_in` names the load whose rows
-- hold this load's rows (NULL: its own); `rows_modified` and `rows_source` are the version this load's rows carry,
-- when a later identical load gave them its own (NULL: the load's `last_modified` and `key`).
ALTER TABLE etl_objects
  ADD COLUMN IF NOT EXISTS rows_sha256 bytea,
  ADD COLUMN IF NOT EXISTS rows_in bigint,
  ADD COLUMN IF NOT EXISTS rows_modified timestamptz,
  ADD COLUMN IF NOT EXISTS rows_source text;
