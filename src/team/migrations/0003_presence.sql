-- stanch team schema: presence, outside the chain (who is looking at the incident, and at
-- which step). Owned by the offline/identity work as number 0003 (0002 is roles and claims).
-- Never edited once released.

CREATE TABLE stanch.presence (
  incident_id text NOT NULL REFERENCES stanch.incident,
  login name NOT NULL DEFAULT session_user,
  last_seen timestamptz NOT NULL DEFAULT clock_timestamp(),
  focus_step text CHECK (length(focus_step) <= 200),
  PRIMARY KEY (incident_id, login)
);

-- The server's clock, never the client's: a heartbeat cannot claim to be from the future.
CREATE FUNCTION stanch.presence_seen_now() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.last_seen := clock_timestamp();
  RETURN NEW;
END $$;
CREATE TRIGGER presence_seen_now BEFORE INSERT OR UPDATE ON stanch.presence
  FOR EACH ROW EXECUTE FUNCTION stanch.presence_seen_now();

-- Members read everyone's row; each login writes only its own, only where it is a member.
ALTER TABLE stanch.presence ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.presence FORCE ROW LEVEL SECURITY;
CREATE POLICY presence_read ON stanch.presence FOR SELECT TO stanch_responder
  USING (stanch.is_member(incident_id));
CREATE POLICY presence_insert ON stanch.presence FOR INSERT TO stanch_responder
  WITH CHECK (login = session_user AND stanch.is_member(incident_id));
CREATE POLICY presence_update ON stanch.presence FOR UPDATE TO stanch_responder
  USING (login = session_user)
  WITH CHECK (login = session_user AND stanch.is_member(incident_id));
CREATE POLICY presence_owner ON stanch.presence FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

REVOKE ALL ON stanch.presence FROM PUBLIC;
GRANT SELECT ON stanch.presence TO stanch_responder;
GRANT INSERT (incident_id, login, focus_step) ON stanch.presence TO stanch_responder;
GRANT UPDATE (focus_step, last_seen) ON stanch.presence TO stanch_responder;
