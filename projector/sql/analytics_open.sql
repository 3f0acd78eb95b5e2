-- Added by migration V8 to every stored version, and part of every version
-- created since (`{V}` as in analytics.sql). A site's days from `open_from` on
-- are open: their rollup rows are not yet added to their week's and month's
-- rows. A live batch writes an open day's row alone (one row per value, not
-- three); once the day is over the projector adds it to its spans in one
-- statement and moves `open_from` on (projector/src/analytics/closing.rs). A
-- site without a row has every day in its spans, as a rebuilt version does.
CREATE TABLE analytics_open_v{V} (site_id uuid PRIMARY KEY, open_from date NOT NULL);
