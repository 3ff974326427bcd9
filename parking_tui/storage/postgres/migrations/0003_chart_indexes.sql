-- parking-tui schema 3: indexes for the Summary chart's hours (one statement, see HOURS_SQL in store.py).
-- * finished bookings by the last instant they count at (when the car left, else their end), carrying every
--   column the chart reads, so the hours' finished bookings are one range of one index, read without the table;
-- * the cars parked now, by lot (a handful of rows): with the live index by lot and start time, the chart reads
--   only the live bookings that can fall in its hours, not every reservation of the coming days.
-- Neither is touched when a reservation is made (both are partial), so a booking costs the database no more.

CREATE INDEX bookings_finished_reach ON bookings ((greatest(end_time, coalesce(checked_out_at, end_time))))
    INCLUDE (lot_id, status, start_time, end_time, checked_in_at, checked_out_at)
    WHERE status NOT IN ('reserved', 'checked_in');
CREATE INDEX bookings_parked ON bookings (lot_id, start_time) WHERE status = 'checked_in';
