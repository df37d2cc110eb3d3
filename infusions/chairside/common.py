"""What every chairside entry shares: the refusal, the entry kinds, the time checks,
the session lock and the entries in force."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from infusions.models import (
    InfusionSession,
    LotUse,
    Premedication,
    RateChange,
    Reaction,
    SessionStatus,
    VitalSigns,
)

FUTURE_GRACE = dt.timedelta(minutes=5)
EPSILON = 1e-9


class EntryRefused(Exception):
    """An entry breaks a chairside rule (a 400); `field` names the input at fault."""

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EntryKind:
    label: str
    from_check_in: bool  # vitals and premedication may come from check-in; the rest once running
    correctable_after_completion: bool  # documentation that changes no dose may be corrected later


KINDS: dict[type, EntryKind] = {
    RateChange: EntryKind("rate change", False, False),
    VitalSigns: EntryKind("vital signs", True, True),
    Reaction: EntryKind("reaction", False, False),
    Premedication: EntryKind("premedication", True, True),
    LotUse: EntryKind("product lot", False, True),
}


# -- common checks ----------------------------------------------------------------


def _mg(value: float) -> str:
    """mg/kg/min for a sentence: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe_rate(ml_per_hour: float, mg_kg_min: float) -> str:
    return f"{ml_per_hour:.1f} mL/h ({_mg(mg_kg_min)} mg/kg/min)"


def _clock(at: dt.datetime, session: InfusionSession) -> str:
    local = at.astimezone(session.center.zone)
    same_day = local.date() == session.start.astimezone(session.center.zone).date()
    return f"{local:%H:%M}" if same_day else f"{local:%Y-%m-%d %H:%M}"


def _locked(session: InfusionSession) -> InfusionSession:
    """The session, locked: entries for one session are checked one at a time against the log."""
    return (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("center", "patient", "plan__protocol__product", "plan__protocol__indication")
        .get(pk=session.pk)
    )


def _check_time(session: InfusionSession, kind: EntryKind, at: dt.datetime, *, amending: bool) -> None:
    statuses = {SessionStatus.IN_PROGRESS}
    if kind.from_check_in:
        statuses.add(SessionStatus.CHECKED_IN)
    if amending and kind.correctable_after_completion:
        statuses.add(SessionStatus.COMPLETED)
    if session.status not in statuses:
        when = "from check-in" if kind.from_check_in else "while the infusion is in progress"
        raise EntryRefused(
            f"A {session.get_status_display().lower()} session takes no {kind.label} entry: "
            f"they are recorded {when}.",
            "session",
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise EntryRefused("Give the time with its UTC offset, e.g. 2027-01-04T09:00:00-05:00.", "at")
    opened, what = (session.checked_in_at, "check-in") if kind.from_check_in else (None, "")
    if opened is None:
        opened, what = session.started_at, "start of the infusion"
    if opened is not None and at < opened:
        raise EntryRefused(f"{_clock(at, session)} is before the {what} at {_clock(opened, session)}.", "at")
    if session.completed_at is not None and at > session.completed_at:
        raise EntryRefused(
            f"{_clock(at, session)} is after the session was completed at {_clock(session.completed_at, session)}.",
            "at",
        )
    if at > timezone.now() + FUTURE_GRACE:
        raise EntryRefused("The time is more than 5 minutes in the future.", "at")


def in_force(entries: Iterable) -> list:
    """Entries nobody corrected (a correction replaces the entry it amends)."""
    entries = list(entries)
    amended = {e.amends_id for e in entries if e.amends_id is not None}
    return [e for e in entries if e.pk not in amended]
