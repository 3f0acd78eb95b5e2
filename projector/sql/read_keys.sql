-- Added by migration V6 to every stored version, and part of every version
-- created since (`{V}` as in version.sql, kept apart so migration V1's text
-- never changes). The statistics API's read keys: a key is presented as
-- `<key_id>.<secret>` and only the secret's SHA-256 is kept. A revoked key
-- stays revoked; a deleted site's keys are deleted with it.
CREATE TABLE site_read_keys_v{V} (
    site_id       uuid    NOT NULL,
    key_id        text    NOT NULL,
    key_hash      bytea   NOT NULL,
    label         text    NOT NULL,
    revoked       boolean NOT NULL DEFAULT false,
    last_position bigint  NOT NULL,
    PRIMARY KEY (site_id, key_id)
);
