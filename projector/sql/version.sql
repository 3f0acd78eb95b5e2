-- One version of the profiles projection. `{V}` is replaced by the version
-- number: migration V1 creates version 1 from this very text, and every
-- rebuild creates version N+1 from it, so the two can never drift.

CREATE TABLE profile_view_v{V} (
    id            uuid        PRIMARY KEY,
    handle        text        NOT NULL,
    display_name  text        NOT NULL,
    email         text        NOT NULL,
    bio           text        NOT NULL,
    avatar_url    text        NOT NULL,
    attributes    jsonb       NOT NULL,
    -- The sites this profile owns: [{id, domain, name, time_zone}], kept
    -- sorted by domain so a profile page is one row read.
    sites         jsonb       NOT NULL DEFAULT '[]',
    version       bigint      NOT NULL,
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL,
    last_position bigint      NOT NULL
);
-- Not unique: handles are unique in the event store, but events of two
-- profiles may be applied in either order (different partitions), so a
-- released handle can briefly appear twice here. Readers pick the row with the
-- highest last_position.
CREATE INDEX profile_view_v{V}_handle_idx ON profile_view_v{V} (handle);

CREATE TABLE site_view_v{V} (
    id               uuid        PRIMARY KEY,
    domain           text        NOT NULL,
    name             text        NOT NULL,
    time_zone        text        NOT NULL,
    owner_profile_id uuid        NOT NULL,
    version          bigint      NOT NULL,
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    last_position    bigint      NOT NULL
);
CREATE INDEX site_view_v{V}_domain_idx ON site_view_v{V} (domain);
CREATE INDEX site_view_v{V}_owner_idx ON site_view_v{V} (owner_profile_id);

-- Deleted profiles and sites (ids are never reused): a re-delivered or late
-- event at or below the deletion's position must not bring a row back.
CREATE TABLE tombstones_v{V} (
    id            uuid   PRIMARY KEY,
    last_position bigint NOT NULL
);
