-- The write side's event store: the source of truth for every Tally fact.
--
-- Global order: `event_head` holds the last assigned position. An appending
-- transaction locks that single row first and keeps the lock until it
-- commits, so positions are assigned in commit order and are dense: when a
-- reader sees position N, every position below N is already visible. A tailer
-- can therefore read "position > last" without ever skipping a late commit
-- (the failure mode of sequence-based stores).

CREATE TABLE event_head (
    id            smallint PRIMARY KEY CHECK (id = 1),
    last_position bigint   NOT NULL CHECK (last_position >= 0)
);
INSERT INTO event_head (id, last_position) VALUES (1, 0);

-- Events are partitioned by category so that high-volume analytics can be
-- split by time and archived (detach a month) without touching the entity
-- streams (profiles, sites), which are small and kept forever.
CREATE TABLE events (
    global_position bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    category        text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         bytea       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (global_position, category, recorded_at)
) PARTITION BY LIST (category);

CREATE INDEX events_stream_idx ON events (stream_id, stream_version);
CREATE INDEX events_recorded_brin ON events USING brin (recorded_at);

-- Entity streams (profile, site, and any future aggregate) share one
-- partition; there a stream version is unique, enforced by the database as a
-- second line of defence behind the append lock.
CREATE TABLE events_entities PARTITION OF events DEFAULT;
CREATE UNIQUE INDEX events_entities_stream_version_uq ON events_entities (stream_id, stream_version);
CREATE UNIQUE INDEX events_entities_event_id_uq ON events_entities (event_id);

-- Analytics: monthly range partitions created ahead of time by
-- tally_ensure_analytics_partitions(); the default partition only catches
-- rows if maintenance has not run for months.
CREATE TABLE events_analytics PARTITION OF events FOR VALUES IN ('analytics') PARTITION BY RANGE (recorded_at);
CREATE TABLE events_analytics_default PARTITION OF events_analytics DEFAULT;

CREATE FUNCTION tally_ensure_analytics_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    m       date;
    name    text;
BEGIN
    FOR i IN 0..months_ahead LOOP
        m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
        name := format('events_analytics_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF events_analytics FOR VALUES FROM (%L) TO (%L)',
                name, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

SELECT tally_ensure_analytics_partitions(2);

-- One row per stream: its current version and last position. Read and
-- written only under the append lock, so it is the authority for
-- optimistic-concurrency checks.
CREATE TABLE streams (
    stream_id     text        PRIMARY KEY,
    category      text        NOT NULL,
    version       bigint      NOT NULL,
    last_position bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Idempotent commands (AIP-155): the first result of a command id, and a
-- fingerprint of the command so a reused id with a different body is refused.
CREATE TABLE command_results (
    command_id      text        PRIMARY KEY,
    fingerprint     bytea       NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    global_position bigint      NOT NULL,
    events_appended integer     NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_results_recorded_brin ON command_results USING brin (recorded_at);

-- Set-validation across all aggregates and all command pods, e.g. unique
-- profile handles: a key is owned by at most one stream.
CREATE TABLE unique_keys (
    scope      text NOT NULL,
    key        text NOT NULL,
    stream_id  text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
