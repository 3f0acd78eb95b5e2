"""Baseline (b) of `tally-bench analytics-reads`: DuckDB over the raw pageviews.

Loads the CSV export of the raw table into an in-memory DuckDB table (timed, reported
apart), then runs the same two questions as the naive Postgres baseline — the aggregate
(visitors, visits, pageviews, bounces, duration) and the top pages by visitors — warm-up +
reps times, and prints one JSON object: the load time, the latencies in milliseconds and the
last answer, for tally-bench to compare and report.
"""

import argparse
import json
import time

import duckdb

AGGREGATE = """
WITH r AS (SELECT * FROM pageviews WHERE site_id = $site AND ts >= CAST($start AS TIMESTAMP) AND ts < CAST($stop AS TIMESTAMP)),
     s AS (SELECT session_id, count(*) AS pv, epoch_ms(max(ts)) - epoch_ms(min(ts)) AS span_ms FROM r GROUP BY session_id)
SELECT (SELECT count(DISTINCT visitor_id) FROM r), count(*), coalesce(sum(pv), 0), count(*) FILTER (WHERE pv = 1),
       coalesce(sum(span_ms), 0) / 1000.0
FROM s
"""

BREAKDOWN = """
SELECT pathname, count(DISTINCT visitor_id) AS visitors, count(*) AS pageviews
FROM pageviews WHERE site_id = $site AND ts >= CAST($start AS TIMESTAMP) AND ts < CAST($stop AS TIMESTAMP)
GROUP BY pathname ORDER BY visitors DESC, pathname LIMIT $lim
"""

COLUMNS = (
    "{'site_id': 'INTEGER', 'ts': 'TIMESTAMP', 'visitor_id': 'BIGINT', 'session_id': 'BIGINT', "
    "'pathname': 'VARCHAR', 'source': 'VARCHAR', 'referrer': 'VARCHAR', 'device': 'VARCHAR', "
    "'browser': 'VARCHAR', 'os': 'VARCHAR', 'country': 'VARCHAR'}"
)


def timed(con, sql, params):
    started = time.perf_counter()
    rows = con.execute(sql, params).fetchall()
    return (time.perf_counter() - started) * 1000.0, rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--site", type=int, required=True)
    p.add_argument("--start", required=True, help="inclusive, 'YYYY-MM-DD HH:MM:SS' UTC")
    p.add_argument("--stop", required=True, help="exclusive, 'YYYY-MM-DD HH:MM:SS' UTC")
    p.add_argument("--limit", type=int, required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--reps", type=int, required=True)
    a = p.parse_args()

    con = duckdb.connect()
    started = time.perf_counter()
    # The path is ours (a temp file), not user input; read_csv takes no parameter for it.
    con.execute(f"CREATE TABLE pageviews AS SELECT * FROM read_csv('{a.csv}', header = true, columns = {COLUMNS})")
    load_secs = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM pageviews").fetchone()[0]

    common = {"site": a.site, "start": a.start, "stop": a.stop}
    out = {"duckdb": duckdb.__version__, "load_secs": load_secs, "rows": rows, "aggregate_ms": [], "breakdown_ms": []}
    for i in range(a.warmup + a.reps):
        agg_ms, agg = timed(con, AGGREGATE, common)
        bd_ms, pages = timed(con, BREAKDOWN, {**common, "lim": a.limit})
        if i >= a.warmup:
            out["aggregate_ms"].append(agg_ms)
            out["breakdown_ms"].append(bd_ms)
        visitors, visits, pageviews, bounces, duration_secs = agg[0]
        out["answer"] = {
            "visitors": visitors,
            "visits": visits,
            "pageviews": int(pageviews),
            "bounces": bounces,
            "duration_secs": float(duration_secs),
            "pages": [{"page": r[0], "visitors": r[1], "pageviews": r[2]} for r in pages],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
