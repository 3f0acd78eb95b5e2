-- Open days (projector/sql/analytics_open.sql): a table per stored version of
-- the analytics projection, empty, so every site's days stay in their spans
-- as they are until the projector first closes days for it; and the view the
-- query-service reads, on the active version.
--
-- Plain SQL, written out rather than generated from the projector's
-- templates: a released migration's text must never change.
DO $migration$
DECLARE
  v int;
BEGIN
  FOR v IN SELECT substring(c.relname FROM '^analytics_rollup_v([0-9]+)$')::int
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind = 'r'
             AND c.relname ~ '^analytics_rollup_v[0-9]+$' LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS analytics_open_v%s '
                   '(site_id uuid PRIMARY KEY, open_from date NOT NULL)', v);
  END LOOP;
  SELECT active_version INTO v FROM projections WHERE name = 'analytics';
  EXECUTE format('CREATE OR REPLACE VIEW analytics_open AS SELECT * FROM analytics_open_v%s', v);
END $migration$;
