-- mc_fail raises an error with the SQLSTATE code and message given: the
-- statements of a batch use it to fail the batch's transaction from inside
-- the server (a lease lost, an email to relink missing), so that a batch
-- can be sent in one round trip and still commit all or nothing. The
-- codes, of class MC (implementation-defined, unused by PostgreSQL), are
-- those of pgCode* in pgapply.go.
CREATE FUNCTION mc_fail(code text, message text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message; END
$$;
