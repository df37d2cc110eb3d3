"""Free windows per chair on one of a center's days, within the booking rules."""

from __future__ import annotations

import datetime as dt

from infusions.models import Center, InfusionSession
from infusions.scheduling.ledger import Ledger

NO_PATIENT = 0  # availability for anyone: no patient's own sessions count


def free_windows(
    *, center: Center, day: dt.date, minutes: int, moving: InfusionSession | None = None
) -> list[dict]:
    """For each active chair, the spans in which a session of `minutes` fits.

    A window runs from the earliest start that fits to the latest end: any
    start on the center's slot grid inside it, `minutes` long, can be booked
    (chair free, inside opening hours, nurse capacity and starts per slot kept).
    For a session `moving` (being rescheduled) its own time counts as free and
    its patient's other sessions, at any center, as taken.
    """
    patient_ids = {moving.patient_id} if moving else set()
    ledger = Ledger(center, day - dt.timedelta(days=1), day + dt.timedelta(days=1), patient_ids=patient_ids)
    patient_id = NO_PATIENT
    if moving:
        ledger.ignore(moving.pk)
        patient_id = moving.patient_id
    length = dt.timedelta(minutes=minutes)
    today = ledger.days[day]
    starts = []
    if today.is_open:
        start = today.opens.astimezone(dt.UTC)
        while start + length <= today.closes:
            starts.append(start)
            start += ledger.slot
    return [
        {
            "chair": chair.pk,
            "name": chair.name,
            "windows": _windows(ledger, chair.pk, patient_id, starts, length),
        }
        for chair in ledger.chairs
    ]


def _windows(
    ledger: Ledger, chair_id: int, patient_id: int, starts: list[dt.datetime], length: dt.timedelta
) -> list[dict]:
    windows: list[dict] = []
    previous = None
    for start in starts:
        if ledger.reasons(chair_id=chair_id, patient_id=patient_id, start=start, end=start + length):
            continue
        local_end = (start + length).astimezone(ledger.zone)
        if previous is not None and start - previous == ledger.slot:
            windows[-1]["end"] = local_end.isoformat()
        else:
            windows.append({"start": start.astimezone(ledger.zone).isoformat(), "end": local_end.isoformat()})
        previous = start
    return windows
