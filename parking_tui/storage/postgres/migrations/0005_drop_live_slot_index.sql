-- parking-tui schema 5: one index fewer to keep up on every booking written.
-- The live bookings of one slot (asked on every booking, check-in and move) are found through the exclusion
-- constraint's index, bookings_no_overlap (gist on slot_id and the window, for live bookings only: the same rows
-- bookings_live_slot held), so bookings_live_slot goes. The gist index answers ``slot_id = $1`` only for a bigint
-- $1 (btree_gist has no cross-type operators): the store sends the slot id as bigint.
-- Measured on the benchmark's small data set (2,000 reservations inserted in one transaction, 8 alternating
-- pairs): 109 us per insert with the index, 102 us without; the slot's live bookings 0.07 ms either way.

DROP INDEX bookings_live_slot;
