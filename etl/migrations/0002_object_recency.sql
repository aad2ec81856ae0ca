-- Merge mode orders two versions of a key by the objects they came from: S3's LastModified, then the key. Loads
-- recorded before this column existed read as the oldest.
ALTER TABLE etl_objects ADD COLUMN IF NOT EXISTS last_modified timestamptz NOT NULL DEFAULT '-infinity';

CREATE INDEX IF NOT EXISTS etl_objects_recency ON etl_objects (dataset, last_modified, key);
