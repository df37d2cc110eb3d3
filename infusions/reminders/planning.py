"""Which reminder rows a session should have, and when each is due.

Called inside the booking, rescheduling and cancelling transactions, so the
rows change together with the session or not at all.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from infusions.models import InfusionSession, Reminder, ReminderKind, ReminderStatus
from patients.models import Patient, ReminderChannel

# A reminder moved out of quiet hours must still arrive at least this long
# before the session; otherwise it goes out before the quiet hours begin.
MIN_LEAD = dt.timedelta(hours=2)
BEFORE_QUIET = dt.timedelta(minutes=15)
CHANNELS = {
    ReminderChannel.EMAIL: ("email",),
    ReminderChannel.SMS: ("sms",),
    ReminderChannel.BOTH: ("email", "sms"),
    ReminderChannel.NONE: (),
}


def channels_of(patient: Patient) -> tuple[str, ...]:
    return CHANNELS[patient.reminder_channel]


def quiet_hours(patient: Patient, session: InfusionSession) -> tuple[dt.time, dt.time]:
    if patient.quiet_hours_start is not None and patient.quiet_hours_end is not None:
        return patient.quiet_hours_start, patient.quiet_hours_end
    return session.center.quiet_hours_start, session.center.quiet_hours_end


def _in_quiet(local: dt.datetime, start: dt.time, end: dt.time) -> bool:
    t = local.time()
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def _quiet_end_after(local: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime:
    """The end of the quiet period that `local` is in."""
    day = local.date()
    if start > end and local.time() >= start:  # evening part of an overnight period
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo)


def _quiet_start_before(local: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime:
    """The beginning of the quiet period that `local` is in."""
    day = local.date()
    if start > end and local.time() < end:  # morning part: it began the evening before
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=local.tzinfo)


def outside_quiet_hours(
    due: dt.datetime, *, zone: ZoneInfo, quiet: tuple[dt.time, dt.time], session_start: dt.datetime
) -> dt.datetime:
    """Move `due` out of the patient's quiet hours (in the patient's zone).

    To the end of the quiet hours, or, when that would leave less than two hours
    before the session, to a quarter of an hour before they begin.
    """
    local = due.astimezone(zone)
    start, end = quiet
    if not _in_quiet(local, start, end):
        return due
    after = _quiet_end_after(local, start, end).astimezone(dt.UTC)
    if after <= session_start - MIN_LEAD:
        return after
    return (_quiet_start_before(local, start, end) - BEFORE_QUIET).astimezone(dt.UTC)


def _due(session: InfusionSession, kind: str, offset_hours: int, now: dt.datetime) -> dt.datetime:
    patient = session.patient
    raw = session.start - dt.timedelta(hours=offset_hours) if kind == ReminderKind.UPCOMING else now
    return outside_quiet_hours(
        raw,
        zone=ZoneInfo(patient.time_zone),
        quiet=quiet_hours(patient, session),
        session_start=session.start,
    )


def _wanted(session: InfusionSession, notices: set[str]) -> set[tuple[str, int, str]]:
    """(kind, offset hours, channel) of every row the session should have now."""
    kinds = [(notice, 0) for notice in notices]
    if session.is_live:
        kinds += [(ReminderKind.UPCOMING, hours) for hours in set(session.center.reminder_offsets_hours)]
    return {(kind, hours, channel) for kind, hours in kinds for channel in channels_of(session.patient)}


def reminders_plan(session: InfusionSession, *, notice: str | None = None) -> list[Reminder]:
    """Bring the session's rows in line with its current version and the patient's wishes.

    `notice` adds an immediate message (booked, rescheduled, cancelled); a
    notice of this version not sent yet stays wanted, on the channels wanted
    now. Rows of older versions, or for channels or offsets no longer wanted,
    are cancelled if not yet sent; a wanted row that was cancelled or skipped
    and never sent is opened again. A row due before now is skipped, never sent
    late. Returns the rows it created.
    """
    now = timezone.now()
    rows = list(Reminder.objects.filter(session=session))
    current = {(r.kind, r.offset_hours, r.channel): r for r in rows if r.session_version == session.version}
    notices = {notice} if notice else set()
    if session.is_live:  # a cancelled session keeps no earlier notice
        notices |= {
            kind for (kind, _, _), r in current.items() if kind != ReminderKind.UPCOMING and r.status in OPEN
        }
    wanted = _wanted(session, notices)
    for row in rows:
        if row.status in OPEN and (row.session_version != session.version or _key(row) not in wanted):
            _set(row, status=ReminderStatus.CANCELLED)
    made = []
    for kind, hours, channel in sorted(wanted):
        row = current.get((kind, hours, channel))
        due = _due(session, kind, hours, now)
        status, error = _fresh_state(session, kind, channel, due, now)
        if row is None:
            made.append(
                Reminder.objects.create(
                    session=session,
                    session_version=session.version,
                    kind=kind,
                    offset_hours=hours,
                    channel=channel,
                    due_at=due,
                    send_after=due,
                    status=status,
                    last_error=error,
                )
            )
        elif _reopenable(row) or (row.status == ReminderStatus.PENDING and row.due_at != due):
            _set(row, status=status, last_error=error, due_at=due, send_after=due)
    return made


OPEN = (ReminderStatus.PENDING, ReminderStatus.QUEUED)


def _key(row: Reminder) -> tuple[str, int, str]:
    return row.kind, row.offset_hours, row.channel


def _reopenable(row: Reminder) -> bool:
    return row.status in (ReminderStatus.CANCELLED, ReminderStatus.SKIPPED) and row.sent_at is None


def _set(row: Reminder, **fields) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))


def _fresh_state(session: InfusionSession, kind: str, channel: str, due: dt.datetime, now) -> tuple[str, str]:
    address = session.patient.email if channel == "email" else session.patient.phone
    if not address:
        return ReminderStatus.SKIPPED, f"No {'email address' if channel == 'email' else 'phone number'}."
    if kind == ReminderKind.UPCOMING and due < now:
        return ReminderStatus.SKIPPED, "Due before it was planned: never sent late."
    return ReminderStatus.PENDING, ""


def reminders_refresh_for_patient(patient: Patient) -> None:
    """After a change of channel, contact or quiet hours: re-plan every live future session."""
    upcoming = (
        InfusionSession.objects.live()
        .filter(patient=patient, start__gt=timezone.now())
        .select_related("center", "patient")
    )
    for session in upcoming:
        reminders_plan(session)
