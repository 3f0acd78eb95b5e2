-- One version of the analytics projection (docs/analytics-read.md). `{V}` is
-- replaced by the version number: migration V2 creates version 1 from this
-- text and every `projector rebuild analytics` creates version N+1 from it.

-- The fast path: signed-delta counters per site × local day × local hour ×
-- dimension × value. `dim = ''` is the total row. Written once per key per
-- micro-batch, keys sorted.
CREATE TABLE analytics_rollup_v{V} (
    site_id       uuid     NOT NULL,
    dim           text     NOT NULL,
    local_date    date     NOT NULL,
    hour          smallint NOT NULL,
    value         text     NOT NULL,
    -- Distinct visitors of the day, each counted in the hour first seen:
    -- summing the hours of a day gives the day's distinct visitors.
    visitors      bigint   NOT NULL DEFAULT 0,
    -- Distinct visitors of this hour (total row only).
    hour_visitors bigint   NOT NULL DEFAULT 0,
    -- Session counters, in the bucket where the session started.
    visits        bigint   NOT NULL DEFAULT 0,
    bounces       bigint   NOT NULL DEFAULT 0,
    duration_ms   bigint   NOT NULL DEFAULT 0,
    -- Event counters, in the bucket of the event's own time.
    pageviews     bigint   NOT NULL DEFAULT 0,
    events        bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, dim, local_date, hour, value)
);

-- Sessionisation state per visitor-day (a visitor id lives one local day):
-- the current session and the (dimension, value) pairs already counted.
CREATE TABLE analytics_visitor_days_v{V} (
    site_id       uuid   NOT NULL,
    local_date    date   NOT NULL,
    visitor_id    text   NOT NULL,
    state         jsonb  NOT NULL,
    -- Events at or below this position are already applied (re-deliveries).
    last_position bigint NOT NULL,
    PRIMARY KEY (site_id, local_date, visitor_id)
);

-- The exact path: one row per session, as it stands.
CREATE TABLE analytics_sessions_v{V} (
    site_id      uuid        NOT NULL,
    local_date   date        NOT NULL,
    visitor_id   text        NOT NULL,
    seq          integer     NOT NULL,
    hour         smallint    NOT NULL,
    started_at   timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    pageviews    integer     NOT NULL,
    events       integer     NOT NULL,
    bounce       boolean     NOT NULL,
    duration_ms  bigint      NOT NULL,
    entry_page   text,
    exit_page    text,
    source       text        NOT NULL,
    referrer     text        NOT NULL,
    utm_source   text        NOT NULL,
    utm_medium   text        NOT NULL,
    utm_campaign text        NOT NULL,
    utm_content  text        NOT NULL,
    utm_term     text        NOT NULL,
    device       text        NOT NULL,
    browser      text        NOT NULL,
    os           text        NOT NULL,
    country      text        NOT NULL,
    PRIMARY KEY (site_id, local_date, visitor_id, seq)
);

-- The exact path: one row per event, with its session.
CREATE TABLE analytics_events_v{V} (
    site_id    uuid        NOT NULL,
    local_date date        NOT NULL,
    position   bigint      NOT NULL,
    hour       smallint    NOT NULL,
    at         timestamptz NOT NULL,
    visitor_id text        NOT NULL,
    seq        integer     NOT NULL,
    name       text        NOT NULL,
    pathname   text        NOT NULL,
    props      jsonb       NOT NULL,
    PRIMARY KEY (site_id, local_date, position)
);
-- Realtime: visitors with an event in the last minutes.
CREATE INDEX analytics_events_v{V}_recent_idx ON analytics_events_v{V} (site_id, at);
