-- stanch team schema: team drills (issue 14 item 7). One exercise, one incident per team; in a
-- facilitated drill a facilitator (not a player) alone appends injects, clock changes and the
-- score; players acknowledge injects; the facilitator reads every team's incident of the
-- exercises they run, players only their own (row-level security, as in 0001).
-- Applied by `stanch team init` in one transaction; never edited once released.

CREATE TABLE stanch.exercise (
  id text PRIMARY KEY
     CHECK (id ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]*$' AND length(id) <= 200),
  scenario text NOT NULL,
  created_by name NOT NULL DEFAULT session_user,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

ALTER TABLE stanch.incident
  ADD COLUMN exercise_id text REFERENCES stanch.exercise,
  ADD COLUMN team text CHECK (team ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
  ADD CONSTRAINT incident_team_in_exercise CHECK ((exercise_id IS NULL) = (team IS NULL)),
  ADD CONSTRAINT incident_one_per_team UNIQUE (exercise_id, team);

-- Whether the session's login runs the exercise an incident belongs to. SECURITY DEFINER (as
-- `is_member`) so policies can read `exercise` and `incident` whatever the caller may see.
CREATE FUNCTION stanch.facilitates(incident text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM stanch.incident i JOIN stanch.exercise x ON x.id = i.exercise_id
                   WHERE i.id = incident AND x.created_by = session_user)
$$;

-- Whether the session's login runs the exercise, or plays in one of its incidents.
CREATE FUNCTION stanch.in_exercise(exercise text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM stanch.exercise x WHERE x.id = exercise AND x.created_by = session_user)
        OR EXISTS (SELECT 1 FROM stanch.incident i JOIN stanch.member m ON m.incident_id = i.id
                   WHERE i.exercise_id = exercise AND m.login = session_user)
$$;

-- Whether the session's login runs this exercise.
CREATE FUNCTION stanch.facilitates_exercise(exercise text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM stanch.exercise x WHERE x.id = exercise AND x.created_by = session_user)
$$;

-- Only a responder added as a facilitator (`team add NAME --role facilitator`) opens one.
CREATE FUNCTION stanch.is_facilitator_login() RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM stanch.responder r
                   WHERE r.login = session_user AND r.role = 'facilitator')
$$;

-- An exercise's incident is facilitated by whoever opened it, not commanded: the commander
-- membership 0001's trigger gave the opener becomes the facilitator's. (Named to fire after
-- `incident_creator_commands`: triggers of one event fire in name order.)
CREATE FUNCTION stanch.incident_exercise_facilitated() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.exercise_id IS NOT NULL THEN
    DELETE FROM stanch.member
      WHERE incident_id = NEW.id AND login = NEW.created_by AND role = 'commander';
    INSERT INTO stanch.member (incident_id, login, role)
      VALUES (NEW.id, NEW.created_by, 'facilitator') ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER incident_exercise_facilitated AFTER INSERT ON stanch.incident
  FOR EACH ROW EXECUTE FUNCTION stanch.incident_exercise_facilitated();

-- The drill rules, for every appender. Runs as the caller, so what it reads goes through the
-- caller's row-level security (a member sees the members and events of their incident).
-- A facilitated drill is an exercise's incident or one with a facilitator member: there only a
-- facilitator injects, changes the clock or scores. (A team drill nobody facilitates runs its
-- scenario's injects from the players' own terminals, as a single drill does.)
CREATE FUNCTION stanch.event_drill_rules() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  j jsonb := convert_from(NEW.canonical, 'UTF8')::jsonb;
  the_team text;
  facilitated boolean;
  target jsonb;
BEGIN
  SELECT i.team, i.exercise_id IS NOT NULL OR EXISTS (
           SELECT 1 FROM stanch.member m WHERE m.incident_id = i.id AND m.role = 'facilitator')
    INTO the_team, facilitated
    FROM stanch.incident i WHERE i.id = NEW.incident_id;
  IF NEW.kind IN ('inject', 'drill.clock', 'drill.score') AND facilitated
     AND NOT EXISTS (SELECT 1 FROM stanch.member m
                     WHERE m.incident_id = NEW.incident_id AND m.login = session_user
                       AND m.role = 'facilitator') THEN
    RAISE EXCEPTION 'event % of %: only a facilitator of the drill may append %',
      NEW.seq, NEW.incident_id, NEW.kind USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.kind = 'inject' THEN
    target := j->'data'->'target';
    IF target IS NOT NULL AND jsonb_typeof(target) <> 'null' AND NOT (
         (target ? 'team' AND (SELECT count(*) FROM jsonb_object_keys(target)) = 1
          AND target->>'team' IS NOT DISTINCT FROM coalesce(the_team, target->>'team'))
      OR (target ? 'role' AND (SELECT count(*) FROM jsonb_object_keys(target)) = 1
          AND target->>'role' IN ('commander','ops','comms','scribe','observer','facilitator'))) THEN
      RAISE EXCEPTION 'event % of %: inject target % is not this team (%) or a team role',
        NEW.seq, NEW.incident_id, target, the_team USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  IF NEW.kind = 'inject.acknowledged' AND NOT EXISTS (
       SELECT 1 FROM stanch.event e
       WHERE e.incident_id = NEW.incident_id AND e.kind = 'inject'
         AND e.seq = (j->'data'->>'inject')::bigint) THEN
    RAISE EXCEPTION 'event % of %: acknowledges seq %, which is not an inject of this incident',
      NEW.seq, NEW.incident_id, j->'data'->>'inject' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER event_drill_rules BEFORE INSERT ON stanch.event
  FOR EACH ROW EXECUTE FUNCTION stanch.event_drill_rules();

ALTER TABLE stanch.exercise ENABLE ROW LEVEL SECURITY;
ALTER TABLE stanch.exercise FORCE ROW LEVEL SECURITY;
CREATE POLICY exercise_read ON stanch.exercise FOR SELECT TO stanch_responder
  USING (stanch.in_exercise(id));
CREATE POLICY exercise_open ON stanch.exercise FOR INSERT TO stanch_responder
  WITH CHECK (created_by = session_user AND stanch.is_facilitator_login());
CREATE POLICY exercise_owner ON stanch.exercise FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

-- The facilitator reads every team's incident, members and events of the exercises they run.
CREATE POLICY incident_read_facilitator ON stanch.incident FOR SELECT TO stanch_responder
  USING (stanch.facilitates(id));
CREATE POLICY member_read_facilitator ON stanch.member FOR SELECT TO stanch_responder
  USING (stanch.facilitates(incident_id));
CREATE POLICY event_read_facilitator ON stanch.event FOR SELECT TO stanch_responder
  USING (stanch.facilitates(incident_id));
-- An incident joins only an exercise its opener runs (restrictive: on top of 0001's rule).
CREATE POLICY incident_in_own_exercise ON stanch.incident AS RESTRICTIVE FOR INSERT
  TO stanch_responder
  WITH CHECK (exercise_id IS NULL OR stanch.facilitates_exercise(exercise_id));

GRANT SELECT ON stanch.exercise TO stanch_responder;
GRANT INSERT (id, scenario) ON stanch.exercise TO stanch_responder;
GRANT INSERT (exercise_id, team) ON stanch.incident TO stanch_responder;
GRANT EXECUTE ON FUNCTION stanch.facilitates(text), stanch.in_exercise(text),
  stanch.facilitates_exercise(text), stanch.is_facilitator_login() TO stanch_responder;
