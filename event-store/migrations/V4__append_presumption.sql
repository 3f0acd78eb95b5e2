-- The one-round-trip append (event-store/src/presumed.rs) decides a batch
-- against what its commands presume (the versions their pod has cached, free
-- keys, unused command ids) and checks those presumptions in the very
-- statement that writes. Unique indexes refute some; the rest are row counts,
-- which this function turns into an error so that the whole statement, and the
-- transaction with it, fails instead of committing. The SQLSTATE is the
-- store's own, so the appender can tell "presumed wrongly, decide again after
-- reading" from any other failure.
CREATE FUNCTION tally_presumption_holds(holds boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT holds THEN
        RAISE EXCEPTION 'a presumption of the append did not hold' USING ERRCODE = 'TA001';
    END IF;
    RETURN true;
END $$;
