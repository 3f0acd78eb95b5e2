-- Rows of the analytics rollup other than the total are one per day
-- (hour = -1) since the projector stopped writing them per hour, and since V4
-- breakdowns and goal conversions read only day, week and month rows. A read
-- model projected by a release from before that change still holds per-hour
-- rows of every dimension, which those reads no longer see: its breakdowns
-- and conversions left out every day it had projected.
--
-- This folds each such day's hours into its day row, then recomputes the
-- week and month rows from the day rows (as V4 does). Every stored version,
-- not only the active one, like V5. Summing is exact: a dimension's visitors
-- are counted in the hour first seen that day, so a day's hours add up to the
-- day's distinct visitors, and every other counter is a plain count.
--
-- Plain SQL, written out rather than generated from the projector's
-- templates: a released migration's text must never change.
DO $migration$
DECLARE
  v int;
  moved bigint;
BEGIN
  FOR v IN SELECT substring(c.relname FROM '^analytics_rollup_v([0-9]+)$')::int
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind = 'r'
             AND c.relname ~ '^analytics_rollup_v[0-9]+$' LOOP
    EXECUTE format(
      'WITH hours AS (DELETE FROM analytics_rollup_v%1$s WHERE dim <> '''' AND hour >= 0 RETURNING *)
       INSERT INTO analytics_rollup_v%1$s AS r
         (site_id, dim, local_date, hour, value, visitors, hour_visitors, visits, bounces, duration_ms,
          pageviews, events, entries)
       SELECT site_id, dim, local_date, -1, value, sum(visitors), sum(hour_visitors), sum(visits), sum(bounces),
              sum(duration_ms), sum(pageviews), sum(events), sum(entries)
       FROM hours GROUP BY site_id, dim, local_date, value
       ON CONFLICT (site_id, dim, local_date, hour, value) DO UPDATE SET
         visitors = r.visitors + EXCLUDED.visitors, hour_visitors = r.hour_visitors + EXCLUDED.hour_visitors,
         visits = r.visits + EXCLUDED.visits, bounces = r.bounces + EXCLUDED.bounces,
         duration_ms = r.duration_ms + EXCLUDED.duration_ms, pageviews = r.pageviews + EXCLUDED.pageviews,
         events = r.events + EXCLUDED.events, entries = r.entries + EXCLUDED.entries', v);
    GET DIAGNOSTICS moved = ROW_COUNT;
    CONTINUE WHEN moved = 0;
    -- Week rows have hour -2 and start on Monday (as date_trunc's weeks do);
    -- month rows have hour -3.
    EXECUTE format('DELETE FROM analytics_rollup_v%1$s WHERE hour IN (-2, -3)', v);
    EXECUTE format(
      'INSERT INTO analytics_rollup_v%1$s
         (site_id, dim, local_date, hour, value, visitors, hour_visitors, visits, bounces, duration_ms,
          pageviews, events, entries)
       SELECT site_id, dim,
              (CASE x.hour WHEN -2 THEN date_trunc(''week'', local_date) ELSE date_trunc(''month'', local_date) END)::date,
              x.hour, value, sum(visitors), sum(hour_visitors), sum(visits), sum(bounces), sum(duration_ms),
              sum(pageviews), sum(events), sum(entries)
       FROM analytics_rollup_v%1$s CROSS JOIN (VALUES (-2::int2), (-3::int2)) AS x(hour)
       WHERE dim <> '''' AND analytics_rollup_v%1$s.hour = -1
       GROUP BY 1, 2, 3, 4, 5', v);
  END LOOP;
END $migration$;
