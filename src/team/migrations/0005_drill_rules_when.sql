-- The drill rules (0004) concern four kinds only; every branch of stanch.event_drill_rules()
-- starts by testing NEW.kind. Evaluated for every event, the trigger parsed each row's
-- canonical text into jsonb and read stanch.incident under row-level security (whose
-- facilitator policy calls stanch.facilitates()): about 1.4 s of server CPU for the bundled
-- drill's 14,141 events in team mode (`bench/team-foreach.sh`, `track_functions = all`).
-- A WHEN condition runs the same function only for those kinds; the rules are unchanged.
DROP TRIGGER event_drill_rules ON stanch.event;
CREATE TRIGGER event_drill_rules BEFORE INSERT ON stanch.event
  FOR EACH ROW
  WHEN (NEW.kind IN ('inject', 'inject.acknowledged', 'drill.clock', 'drill.score'))
  EXECUTE FUNCTION stanch.event_drill_rules();
