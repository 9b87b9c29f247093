-- stanch team schema, version 2: who does what, checked on every append.
-- Applied by `stanch team init` after 0001, in one transaction; never edited once released.
--
-- The rules read the chain itself (no second table to drift from it), the same way stanch
-- folds it (`incident::team`):
--   holder(step)  = actor of the step's last step.claimed / step.taken_over; none after a
--                   step.released
--   commander     = login of the last role.changed to 'commander'; else the actor of seq 1
-- and refuse, before the row is stored:
--   - step.claimed on a step someone else holds (take it over explicitly instead);
--   - step.released by anyone but the holder;
--   - step.taken_over of a free step or one's own, with `from` not the holder, or without
--     a reason;
--   - step.started by anyone but the holder (a step is claimed before it runs), except a
--     step.started merged from an offline sub-chain (`data.offline`) by a responder who held
--     the step before they went offline (a claim of theirs before `data.offline.seq`): it
--     was allowed when written; a teammate's take-over meanwhile is the merge's conflict,
--     named in `sync.merged`, not a reason to drop recorded work;
--   - role.changed by anyone but the commander, except a responder taking command
--     themselves with a reason (`take_over`); a role that is not one, or a login that is
--     not a member of the incident;
--   - incident.closed by anyone but the commander.
-- Injects (facilitator only) are the drills migration's.

CREATE INDEX event_step_idx ON stanch.event (incident_id, step, seq) WHERE step IS NOT NULL;
CREATE INDEX event_kind_idx ON stanch.event (incident_id, kind, seq);

-- Volatile (the default): a batch's earlier rows, inserted by the same statement, must count.
CREATE FUNCTION stanch.holder(incident text, step_id text) RETURNS name
  LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN e.kind = 'step.released' THEN NULL ELSE e.actor END
    FROM stanch.event e
    WHERE e.incident_id = incident AND e.step = step_id
      AND e.kind IN ('step.claimed', 'step.taken_over', 'step.released')
    ORDER BY e.seq DESC
    LIMIT 1
$$;

CREATE FUNCTION stanch.commander(incident text) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
      (SELECT convert_from(e.canonical, 'UTF8')::jsonb #>> '{data,login}'
         FROM stanch.event e
        WHERE e.incident_id = incident AND e.kind = 'role.changed'
          AND convert_from(e.canonical, 'UTF8')::jsonb #>> '{data,role}' = 'commander'
        ORDER BY e.seq DESC
        LIMIT 1),
      (SELECT e.actor::text FROM stanch.event e WHERE e.incident_id = incident AND e.seq = 1))
$$;

CREATE FUNCTION stanch.event_rules() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d jsonb := convert_from(NEW.canonical, 'UTF8')::jsonb -> 'data';
  held name;
  commands text;
BEGIN
  IF NEW.kind IN ('step.claimed', 'step.released', 'step.taken_over', 'step.started') THEN
    IF NEW.step IS NULL THEN
      RAISE EXCEPTION '% in % names no step', NEW.kind, NEW.incident_id
        USING ERRCODE = 'check_violation';
    END IF;
    held := stanch.holder(NEW.incident_id, NEW.step);
    IF NEW.kind = 'step.claimed' AND held IS NOT NULL AND held <> NEW.actor THEN
      RAISE EXCEPTION 'step % of % is held by %: take it over explicitly, with a reason',
        NEW.step, NEW.incident_id, held USING ERRCODE = 'check_violation';
    ELSIF NEW.kind = 'step.released' AND held IS DISTINCT FROM NEW.actor THEN
      RAISE EXCEPTION 'step % of % is held by %, not by %: only its holder releases it',
        NEW.step, NEW.incident_id, coalesce(held::text, 'nobody'), NEW.actor
        USING ERRCODE = 'check_violation';
    ELSIF NEW.kind = 'step.taken_over' THEN
      IF held IS NULL OR held = NEW.actor THEN
        RAISE EXCEPTION 'step % of % is held by %: there is nothing to take over',
          NEW.step, NEW.incident_id, coalesce(held::text, 'nobody')
          USING ERRCODE = 'check_violation';
      END IF;
      IF d ->> 'from' IS DISTINCT FROM held::text THEN
        RAISE EXCEPTION 'step % of % is held by %, not by % as the take-over says',
          NEW.step, NEW.incident_id, held, coalesce(d ->> 'from', '(nobody)')
          USING ERRCODE = 'check_violation';
      END IF;
      IF coalesce(btrim(d ->> 'reason'), '') = '' THEN
        RAISE EXCEPTION 'taking over step % of % needs a reason', NEW.step, NEW.incident_id
          USING ERRCODE = 'check_violation';
      END IF;
    ELSIF NEW.kind = 'step.started' AND held IS DISTINCT FROM NEW.actor
          AND NOT (d ? 'offline' AND EXISTS (
            SELECT 1 FROM stanch.event h
             WHERE h.incident_id = NEW.incident_id AND h.step = NEW.step
               AND h.actor = NEW.actor AND h.kind IN ('step.claimed', 'step.taken_over')
               AND h.seq < (d #>> '{offline,seq}')::bigint)) THEN
      RAISE EXCEPTION 'step % of % is held by %: % must claim it (or take it over) before running it',
        NEW.step, NEW.incident_id, coalesce(held::text, 'nobody'), NEW.actor
        USING ERRCODE = 'check_violation';
    END IF;
  ELSIF NEW.kind IN ('role.changed', 'incident.closed') THEN
    commands := stanch.commander(NEW.incident_id);
    IF NEW.kind = 'incident.closed' THEN
      IF commands IS DISTINCT FROM NEW.actor::text THEN
        RAISE EXCEPTION 'only the commander (%) closes %', coalesce(commands, 'nobody'),
          NEW.incident_id USING ERRCODE = 'check_violation';
      END IF;
    ELSE
      IF coalesce(d ->> 'role', '') NOT IN
         ('commander', 'ops', 'comms', 'scribe', 'observer', 'facilitator') THEN
        RAISE EXCEPTION 'role.changed in %: % is not a team role', NEW.incident_id,
          coalesce(d ->> 'role', '(none)') USING ERRCODE = 'check_violation';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM stanch.member m
                     WHERE m.incident_id = NEW.incident_id AND m.login::text = d ->> 'login') THEN
        RAISE EXCEPTION 'role.changed in %: % is not a member of it', NEW.incident_id,
          coalesce(d ->> 'login', '(none)') USING ERRCODE = 'check_violation';
      END IF;
      IF commands IS DISTINCT FROM NEW.actor::text
         AND NOT (d ->> 'login' = NEW.actor::text AND d ->> 'role' = 'commander'
                  AND coalesce(btrim(d ->> 'take_over'), '') <> '') THEN
        RAISE EXCEPTION 'only the commander (%) changes roles in %; take command yourself with an explicit, journalled take-over',
          coalesce(commands, 'nobody'), NEW.incident_id USING ERRCODE = 'check_violation';
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER event_rules BEFORE INSERT ON stanch.event
  FOR EACH ROW EXECUTE FUNCTION stanch.event_rules();

-- A role given in the chain is recorded in `member` too (owner's rights: responders cannot
-- write `member` themselves), so the roster matches the journal.
CREATE FUNCTION stanch.event_role_member() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d jsonb := convert_from(NEW.canonical, 'UTF8')::jsonb -> 'data';
BEGIN
  INSERT INTO stanch.member (incident_id, login, role)
    VALUES (NEW.incident_id, d ->> 'login', d ->> 'role') ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER event_role_member AFTER INSERT ON stanch.event
  FOR EACH ROW WHEN (NEW.kind = 'role.changed') EXECUTE FUNCTION stanch.event_role_member();
