"""Scheduling: series dates, the center's ledger of bookings, placement and booking services."""
