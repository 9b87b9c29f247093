-- stanch team schema, version 1: incidents, members, the shared event chain.
-- The runner has created schema `stanch` and `stanch.schema_version` and holds its lock.
-- Applied by `stanch team init` in one transaction; never edited once released (add 0002_…).

-- Responders log in as themselves and belong to this group; it holds every privilege they
-- have. (Roles are cluster-wide: another database's `team init` may have made it already.)
-- Two databases' inits may race to create it: whoever loses finds it made.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stanch_responder') THEN
    CREATE ROLE stanch_responder NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;
GRANT USAGE ON SCHEMA stanch TO stanch_responder;

CREATE TABLE stanch.responder (
  login name PRIMARY KEY,
  role  text NOT NULL CHECK (role IN ('commander','ops','comms','scribe','observer','facilitator')),
  added_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE stanch.incident (
  id text PRIMARY KEY
     CHECK (id ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]*$' AND length(id) <= 200),
  created_by name NOT NULL DEFAULT session_user,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE stanch.member (
  incident_id text NOT NULL REFERENCES stanch.incident,
  login name NOT NULL,
  role  text NOT NULL CHECK (role IN ('commander','ops','comms','scribe','observer','facilitator')),
  PRIMARY KEY (incident_id, login, role)
);

-- The chain. `canonical` holds the exact bytes that were hashed (the event without `hash`,
-- as stanch serializes it); the CHECK recomputes the hash rule byte for byte, and the foreign
-- key on (prev_seq, prev) makes a gap, a fork or a wrong prev impossible to insert.
CREATE TABLE stanch.event (
  incident_id text NOT NULL REFERENCES stanch.incident,
  seq bigint NOT NULL CHECK (seq >= 1),
  prev_seq bigint GENERATED ALWAYS AS (NULLIF(seq - 1, 0)) STORED,
  prev text NOT NULL
       CHECK (prev ~ '^[0-9a-f]{64}$' AND (seq > 1 OR prev = repeat('0', 64))),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  canonical bytea NOT NULL,
  actor name NOT NULL,
  kind text NOT NULL,
  step text,
  committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (incident_id, seq),
  UNIQUE (incident_id, seq, hash),
  FOREIGN KEY (incident_id, prev_seq, prev) REFERENCES stanch.event (incident_id, seq, hash),
  CONSTRAINT event_hash_rule
    CHECK (hash = encode(sha256(convert_to(prev, 'UTF8') || canonical), 'hex'))
);

-- Whether the session's login works on an incident. SECURITY DEFINER so that policies can
-- read `member` without granting responders the whole table.
CREATE FUNCTION stanch.is_member(incident text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM stanch.member m
                   WHERE m.incident_id = incident AND m.login = session_user)
$$;

-- The columns must say what the hashed JSON says: no event can claim one actor, kind or seq
-- in its columns (which RLS and readers trust) and another in its bytes (which verify trusts).
CREATE FUNCTION stanch.event_agrees() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  j jsonb;
BEGIN
  BEGIN
    j := convert_from(NEW.canonical, 'UTF8')::jsonb;
  EXCEPTION WHEN others THEN
    RAISE EXCEPTION 'event % of %: canonical bytes are not JSON', NEW.seq, NEW.incident_id
      USING ERRCODE = 'check_violation';
  END;
  IF jsonb_typeof(j) <> 'object'
     OR j ? 'hash'
     OR (j->>'seq')::bigint IS DISTINCT FROM NEW.seq
     OR j->>'prev' IS DISTINCT FROM NEW.prev
     OR j->>'actor' IS DISTINCT FROM NEW.actor::text
     OR j->>'kind' IS DISTINCT FROM NEW.kind
     OR j->>'step' IS DISTINCT FROM NEW.step THEN
    RAISE EXCEPTION 'event % of %: columns disagree with the hashed JSON', NEW.seq, NEW.incident_id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.actor <> session_user THEN
    RAISE EXCEPTION 'event % of %: actor % is not the login %', NEW.seq, NEW.incident_id,
      NEW.actor, session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  NEW.committed_at := clock_timestamp();
  RETURN NEW;
END $$;
CREATE TRIGGER event_agrees BEFORE INSERT ON stanch.event
  FOR EACH ROW EXECUTE FUNCTION stanch.event_agrees();

CREATE FUNCTION stanch.append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stanch.%: the journal is append-only (% refused); corrections are new events',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER event_no_update BEFORE UPDATE OR DELETE ON stanch.event
  FOR EACH ROW EXECUTE FUNCTION stanch.append_only();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON stanch.event
  FOR EACH STATEMENT EXECUTE FUNCTION stanch.append_only();

-- Ids only: NOTIFY reaches every listener whatever its privileges; the events themselves are
-- fetched through row-level security. (One notification per transaction and incident.)
CREATE FUNCTION stanch.event_notify() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('stanch', NEW.incident_id);
  RETURN NULL;
END $$;
CREATE TRIGGER event_notify AFTER INSERT ON stanch.event
  FOR EACH ROW EXECUTE FUNCTION stanch.event_notify();

-- Whoever opens an incident commands it until a hand-over.
CREATE FUNCTION stanch.incident_creator_commands() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO stanch.member (incident_id, login, role)
    VALUES (NEW.id, NEW.created_by, 'commander') ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER incident_creator_commands AFTER INSERT ON stanch.incident
  FOR EACH ROW EXECUTE FUNCTION stanch.incident_creator_commands();

-- Row-level security. Responders' policies are theirs only (the owner's own policies keep
-- `is_member`, which reads `member` as the owner, from recursing). `session_user`, not `current_user`: SET ROLE cannot forge attribution.
ALTER TABLE stanch.event ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.event FORCE ROW LEVEL SECURITY;
CREATE POLICY event_read ON stanch.event FOR SELECT TO stanch_responder USING (stanch.is_member(incident_id));
CREATE POLICY event_append ON stanch.event FOR INSERT TO stanch_responder
  WITH CHECK (actor = session_user AND stanch.is_member(incident_id));

ALTER TABLE stanch.incident ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.incident FORCE ROW LEVEL SECURITY;
CREATE POLICY incident_read ON stanch.incident FOR SELECT TO stanch_responder
  USING (stanch.is_member(id) OR created_by = session_user);
CREATE POLICY incident_open ON stanch.incident FOR INSERT TO stanch_responder
  WITH CHECK (created_by = session_user);
-- The schema owner (who runs `team init` / `team add`) manages incidents and members.
CREATE POLICY incident_owner ON stanch.incident FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE stanch.member ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.member FORCE ROW LEVEL SECURITY;
CREATE POLICY member_read ON stanch.member FOR SELECT TO stanch_responder USING (stanch.is_member(incident_id));
CREATE POLICY member_owner ON stanch.member FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE stanch.responder ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.responder FORCE ROW LEVEL SECURITY;
CREATE POLICY responder_read ON stanch.responder FOR SELECT TO stanch_responder USING (true);
CREATE POLICY responder_owner ON stanch.responder FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

REVOKE ALL ON ALL TABLES IN SCHEMA stanch FROM PUBLIC;
GRANT SELECT ON stanch.schema_version, stanch.incident, stanch.member, stanch.responder, stanch.event
  TO stanch_responder;
GRANT INSERT ON stanch.event TO stanch_responder;
GRANT INSERT (id) ON stanch.incident TO stanch_responder;
GRANT EXECUTE ON FUNCTION stanch.is_member(text) TO stanch_responder;
