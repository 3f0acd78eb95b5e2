-- How far the outbox relay has published the global order to Kafka.
--
-- One row per relay (`name`, e.g. `kafka`). Only the relay holding the
-- leadership advisory lock writes it, on the very session that holds the lock,
-- so a deposed leader whose session died cannot move it. It is advanced only
-- after the brokers acknowledged every event up to `published_position`:
-- after any crash the next leader resumes here and re-publishes at most the
-- unacknowledged tail (at-least-once on the wire).
CREATE TABLE relay_checkpoint (
    name               text        PRIMARY KEY,
    published_position bigint      NOT NULL CHECK (published_position >= 0),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
