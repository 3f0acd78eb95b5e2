-- Added by migration V5 to every stored version, and part of every version
-- created since (`{V}` as in analytics.sql). A visitor-day's state is the
-- projector's compact binary encoding (projector/src/analytics/state.rs), not
-- jsonb: each live batch reads and writes one state per visitor it touches, and
-- jsonb's parsing and printing cost the read DB a tenth of its time. A state
-- stored as jsonb becomes its JSON text, which the projector still reads.
ALTER TABLE analytics_visitor_days_v{V} ALTER COLUMN state TYPE bytea USING convert_to(state::text, 'UTF8');
