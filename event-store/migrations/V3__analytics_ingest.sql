-- Analytics ingest: the daily visitor-hash salts and client event ids.

-- One random salt per site and local day. The visitor id is a keyed hash
-- under this salt, so once the row is gone nobody can recompute an id from an
-- IP address and User-Agent. `expires_at` is two days after the local day
-- ends (a day after the last zone on earth left it), or two days after the
-- salt was created for a past day (a backfill), whichever is later: an import
-- running for hours keeps one salt per day throughout.
CREATE TABLE analytics_salts (
    site_id    uuid        NOT NULL,
    local_date date        NOT NULL,
    salt       bytea       NOT NULL CHECK (length(salt) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (site_id, local_date)
);
CREATE INDEX analytics_salts_expires_idx ON analytics_salts (expires_at);

-- Client event ids already recorded per site (idempotent ingest). A row is
-- inserted in the same transaction as its event, so an id is taken exactly
-- when its event exists.
CREATE TABLE analytics_client_events (
    site_id         uuid        NOT NULL,
    client_event_id text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, client_event_id)
);
CREATE INDEX analytics_client_events_recorded_brin ON analytics_client_events USING brin (recorded_at);
