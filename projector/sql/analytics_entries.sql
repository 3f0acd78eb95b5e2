-- Added by migration V3 to the version then active, and part of every version
-- created since (`{V}` as in analytics.sql; kept apart so migration V2's text
-- never changes). `entries` of a page row counts the visits that entered on
-- the page (the entry-page row's visits): a page breakdown's bounce rate is
-- over those, and with them on the page rows it reads one set of rows.
ALTER TABLE analytics_rollup_v{V} ADD COLUMN IF NOT EXISTS entries bigint NOT NULL DEFAULT 0;
