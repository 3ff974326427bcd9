-- parking-tui schema 2: indexes for what every booking asks and for the Summary chart.
-- * the live bookings of one slot (asked on every create_booking, check-in and move): without this index the
--   planner combined the slot's index, holding every finished booking of the slot too, with the index of every
--   live booking;
-- * finished bookings by when they ended or when the car left (the Summary chart's week, and any report over a
--   period): without these the archive was read whole.
-- Built in the migration's transaction: writes to bookings wait for the build (seconds at 200,000 bookings).

CREATE INDEX bookings_live_slot ON bookings (slot_id, start_time, id) WHERE status IN ('reserved', 'checked_in');
CREATE INDEX bookings_end ON bookings (end_time);
CREATE INDEX bookings_checked_out ON bookings (checked_out_at) WHERE checked_out_at IS NOT NULL;
