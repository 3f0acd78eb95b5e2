-- The read database's unversioned objects: which version of each projection
-- serves, the projector's offsets (committed in the same transaction as the
-- rows they produced), and dead letters.

CREATE TABLE projections (
    name            text    PRIMARY KEY,
    active_version  integer NOT NULL,
    -- Events with a position at or below this are already in the active
    -- version (set when a rebuild hands over to the live projector).
    applied_through bigint  NOT NULL DEFAULT 0,
    switched_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projections (name, active_version) VALUES ('profiles', 1);

CREATE TABLE projector_offsets (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    -- Highest global position (event or watermark) applied from this partition.
    position    bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    consumer        text        NOT NULL,
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    "offset"        bigint      NOT NULL,
    global_position bigint,
    event_type      text,
    reason          text        NOT NULL,
    -- The message as received: an encoded tally.v1.EventEnvelope.
    raw             bytea       NOT NULL,
    headers         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    retried_at      timestamptz,
    resolved        boolean     NOT NULL DEFAULT false
);
CREATE INDEX dead_letters_open_idx ON dead_letters (id) WHERE NOT resolved;
CREATE INDEX dead_letters_position_idx ON dead_letters (global_position) WHERE NOT resolved;
