-- parking-tui schema 4: a unit of work's locked reads in one statement each.
-- A unit locks what it reads with intent to write (the user, the lot: advisory locks, see store.py) and must read
-- it after the lock is granted. In READ COMMITTED a statement reads one snapshot, taken when it starts, so the
-- lock and the read were two statements; each of these functions takes the lock and then reads, and a
-- statement inside a (volatile) PL/pgSQL function takes its own snapshot, after the lock. One statement less for
-- the client to send and the server to bind and run, per lock. ``locked`` says which user or lot was locked (the
-- row may have changed between the two looks; the store then locks and reads again, as before).

CREATE FUNCTION parking_session_locked(p_token text)
RETURNS TABLE (
    locked text, token_hash text, username text, created_at timestamptz, expires_at timestamptz,
    u_username text, u_email text, u_password_hash text, u_phone_number text, u_is_admin boolean,
    u_active boolean, u_created_at timestamptz, u_password_changed_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    who text;
BEGIN
    SELECT s.username INTO who FROM sessions s WHERE s.token_hash = p_token;
    IF who IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(2, ('x' || substr(md5(lower(who)), 1, 8))::bit(32)::int);
    END IF;
    RETURN QUERY
        SELECT who, s.token_hash, s.username, s.created_at, s.expires_at, u.username, u.email, u.password_hash,
               u.phone_number, u.is_admin, u.active, u.created_at, u.password_changed_at
          FROM sessions s LEFT JOIN users u ON lower(u.username) = lower(s.username)
         WHERE s.token_hash = p_token;
END
$$;

CREATE FUNCTION parking_slot_locked(p_slot bigint)
RETURNS TABLE (
    locked bigint, id bigint, lot_id bigint, slot_number text, admin_status text, mark_until timestamptz,
    mark_reason text, retired boolean, l_id bigint, l_name text, l_location text, l_total_slots integer,
    l_time_zone text, l_policy jsonb, l_created_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    lot bigint;
BEGIN
    SELECT s.lot_id INTO lot FROM slots s WHERE s.id = p_slot;
    IF lot IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1, (lot & 2147483647)::int);
    END IF;
    RETURN QUERY
        SELECT lot, s.id, s.lot_id, s.slot_number, s.admin_status, s.mark_until, s.mark_reason, s.retired,
               l.id, l.name, l.location, l.total_slots, l.time_zone, l.policy, l.created_at
          FROM slots s JOIN lots l ON l.id = s.lot_id
         WHERE s.id = p_slot;
END
$$;

CREATE FUNCTION parking_booking_locked(p_id bigint)
RETURNS TABLE (
    locked bigint, id bigint, slot_id bigint, lot_id bigint, slot_number text, username text,
    start_time timestamptz, end_time timestamptz, status text, confirmation_code text, plate text, attention text,
    moved_from text, created_at timestamptz, grace_from timestamptz, checked_in_at timestamptz,
    checked_out_at timestamptz, cancelled_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    lot bigint;
BEGIN
    SELECT b.lot_id INTO lot FROM bookings b WHERE b.id = p_id;
    IF lot IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1, (lot & 2147483647)::int);
    END IF;
    RETURN QUERY
        SELECT lot, b.id, b.slot_id, b.lot_id, b.slot_number, b.username, b.start_time, b.end_time, b.status,
               b.confirmation_code, b.plate, b.attention, b.moved_from, b.created_at, b.grace_from,
               b.checked_in_at, b.checked_out_at, b.cancelled_at
          FROM bookings b
         WHERE b.id = p_id;
END
$$;
