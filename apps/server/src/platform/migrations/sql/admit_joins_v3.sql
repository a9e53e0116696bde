-- admit_joins_v3: one batch of joins of one event, decided and written in one call (ADR 0005). Loaded by
-- migration 20261206T0300-admissions; a released version is never edited: a change is a new file
-- (admit_joins_v4.sql) and a new function beside this one, dropped once no running code calls it.
--
-- As admit_joins_v2, which it replaces, but on the participation module's own `admissions` row (ADR 0011)
-- instead of the wide events row: it locks that row first and only then reads (in READ COMMITTED every
-- statement of a PL/pgSQL function takes a fresh snapshot, so the admission statement sees everything
-- committed before the lock was granted). Newcomers (holding nothing, or a cancelled place) get free seats,
-- then free waitlist places, in arrival order; rows get queue numbers in that order; the counters grow by what
-- was written; the outbox gets one `participation.changed.v1` per new place and one `stats.changed.v1`. A
-- closed admission (draft, closed, ended) gets nothing written. Answers NULL when the event has no admission,
-- else json with the admission's `state` (draft, open, closed) and each new place as
-- [user_id, status, queue_number, position].
CREATE FUNCTION admit_joins_v3(p_event uuid, p_users uuid[], p_now timestamptz) RETURNS json
LANGUAGE plpgsql
-- PL/pgSQL keeps each statement's plan for the session. A plan made while the event's participations looked
-- few scanned all of them on every call, slower with every join (ADR 0005). Only index probes will do;
-- admit-joins-plan.int.test.ts fails on a plan that scans. `plan_cache_mode = force_custom_plan` would also
-- do, but plans this statement anew on every call: 2.5 to 3.7 ms a call of 10 joiners instead of 1.3 to
-- 1.5 ms (ADR 0005, 2026-12-06).
SET enable_seqscan = off
AS $fn$
DECLARE
  result json;
BEGIN
  PERFORM 1 FROM admissions WHERE event_id = p_event FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;

  WITH admission AS (
    SELECT event_id, organizer_id, state, capacity, confirmed, waitlisted, checked_in,
      (state = 'open' AND ends_at > p_now) AS is_open,
      CASE WHEN capacity IS NOT NULL THEN greatest(capacity - confirmed, 0) END AS free_seats,
      CASE WHEN capacity IS NULL OR waitlist_limit IS NULL THEN NULL
        ELSE greatest(capacity - confirmed, 0) + greatest(waitlist_limit - waitlisted, 0)
      END AS free_places
    FROM admissions WHERE event_id = p_event
  ),
  request AS (
    SELECT user_id, min(arrival) AS arrival
    FROM unnest(p_users) WITH ORDINALITY AS r (user_id, arrival)
    GROUP BY user_id
  ),
  -- One primary-key probe per joiner. LIMIT 1 keeps the planner from turning the probes into one scan
  -- of the event's participations (it would, for a plan made while the table looked small).
  held AS (
    SELECT p.event_id, p.user_id, p.status, p.queue_number, p.joined_at, p.confirmed_at, p.checked_in_at
    FROM request r CROSS JOIN LATERAL (
      SELECT * FROM participations WHERE event_id = p_event AND user_id = r.user_id LIMIT 1
    ) AS p
  ),
  newcomer AS (
    SELECT r.user_id, row_number() OVER (ORDER BY r.arrival) AS n
    FROM request r CROSS JOIN admission a
    WHERE a.is_open AND r.user_id <> a.organizer_id
      AND NOT EXISTS (
        SELECT 1 FROM held h
        WHERE h.user_id = r.user_id AND h.status IN ('confirmed', 'waitlisted', 'removed')
      )
  ),
  placed AS (
    SELECT nc.user_id, nc.n,
      CASE WHEN a.free_seats IS NULL OR nc.n <= a.free_seats THEN 'confirmed' ELSE 'waitlisted' END AS status,
      CASE WHEN a.free_seats IS NULL OR nc.n <= a.free_seats THEN NULL
        ELSE a.waitlisted + nc.n - a.free_seats
      END AS position
    FROM newcomer nc CROSS JOIN admission a
    WHERE a.free_places IS NULL OR nc.n <= a.free_places
  ),
  written AS (
    INSERT INTO participations (event_id, user_id, status, queue_number, joined_at, confirmed_at, updated_at)
    SELECT p_event, user_id, status, nextval('participation_queue_numbers'), p_now,
      CASE WHEN status = 'confirmed' THEN p_now END, p_now
    FROM (SELECT user_id, status FROM placed ORDER BY n) AS in_order
    ON CONFLICT (event_id, user_id) DO UPDATE SET
      status = excluded.status,
      queue_number = excluded.queue_number,
      joined_at = excluded.joined_at,
      confirmed_at = excluded.confirmed_at,
      checked_in_at = NULL,
      removed_reason = NULL,
      updated_at = excluded.updated_at
    -- Never true with the lock held; a guard, so a place is never taken twice whatever changes above.
    WHERE participations.status IN ('cancelled', 'event_cancelled')
    RETURNING event_id, user_id, status, queue_number, joined_at, confirmed_at, checked_in_at
  ),
  counted AS (
    UPDATE admissions SET
      confirmed = confirmed + (SELECT count(*) FROM written WHERE status = 'confirmed'),
      waitlisted = waitlisted + (SELECT count(*) FROM written WHERE status = 'waitlisted')
    WHERE event_id = p_event AND EXISTS (SELECT 1 FROM placed)
    RETURNING confirmed, waitlisted
  ),
  messages AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, subject, payload)
    SELECT 'event', p_event::text, type, 'domain.' || type, payload FROM (
      SELECT 0 AS part, w.queue_number AS ord, 'participation.changed.v1' AS type,
        jsonb_build_object('eventId', w.event_id, 'userId', w.user_id, 'status', w.status,
          'waitlistPosition', p.position, 'cause', 'joined') AS payload
      FROM written w JOIN placed p USING (user_id)
      UNION ALL
      SELECT 1, 0, 'stats.changed.v1',
        jsonb_build_object('eventId', a.event_id, 'capacity', a.capacity, 'confirmed', c.confirmed,
          'waitlisted', c.waitlisted, 'checkedIn', a.checked_in)
      FROM counted c CROSS JOIN admission a
    ) AS message
    ORDER BY part, ord
    RETURNING id
  )
  SELECT json_build_object(
    'organizer_id', a.organizer_id,
    'state', a.state,
    'is_open', a.is_open,
    'capacity', a.capacity,
    'confirmed', coalesce((SELECT confirmed FROM counted), a.confirmed),
    'waitlisted', coalesce((SELECT waitlisted FROM counted), a.waitlisted),
    'checked_in', a.checked_in,
    'placed', (SELECT coalesce(json_agg(json_build_array(w.user_id, w.status, w.queue_number, p.position)), '[]')
      FROM written w JOIN placed p USING (user_id)),
    'held', (SELECT coalesce(json_agg(to_json(h)), '[]') FROM held h),
    'messages', (SELECT count(*) FROM messages)
  ) INTO result
  FROM admission a;

  -- Wakes the outbox relay at commit (see outbox.ts).
  IF (result ->> 'messages')::int > 0 THEN
    PERFORM pg_notify('outbox', '');
  END IF;
  RETURN result;
END
$fn$;
