-- The ledger: one row per object version load. The current load of a key is the row whose superseded_at is NULL;
-- a new version of the key or `--reprocess` supersedes it (and deletes its target rows and rejects) in the same
-- transaction as the new load.
CREATE TABLE IF NOT EXISTS etl_objects (
    id            bigserial   PRIMARY KEY,
    dataset       text        NOT NULL,
    bucket        text        NOT NULL,
    key           text        NOT NULL,
    version_id    text        NOT NULL,
    etag          text        NOT NULL,
    size_bytes    bigint      NOT NULL,
    rows_loaded   bigint      NOT NULL DEFAULT 0,
    rows_rejected bigint      NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    superseded_at timestamptz
);

CREATE UNIQUE INDEX IF NOT EXISTS etl_objects_current
    ON etl_objects (dataset, bucket, key) WHERE superseded_at IS NULL;

-- Rejected rows, written in the same transaction as the object's good rows.
CREATE TABLE IF NOT EXISTS etl_rejects (
    object_id bigint NOT NULL REFERENCES etl_objects (id) ON DELETE CASCADE,
    line      bigint NOT NULL,
    record    text   NOT NULL,
    reason    text   NOT NULL,
    PRIMARY KEY (object_id, line)
);
