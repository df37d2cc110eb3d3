from __future__ import annotations

from infusions.models.catalogue import Indication, Product, Protocol, ProtocolStep
from infusions.models.centers import Center, Chair, ClosedDate, OpeningHours, StaffingDay, Weekday
from infusions.models.plans import DosingWeightMethod, InfusionPlan, Interval, PlanStatus
from infusions.models.records import *  # noqa: F403  (chairside records)
from infusions.models.reminders import *  # noqa: F403  (the reminder outbox)
from infusions.models.sessions import (
    ACTION_TIMESTAMPS,
    ACTION_WORDS,
    RELEASED_STATUSES,
    TRANSITIONS,
    InfusionSession,
    SessionStatus,
)

__all__ = [
    "ACTION_TIMESTAMPS",
    "ACTION_WORDS",
    "RELEASED_STATUSES",
    "TRANSITIONS",
    "Center",
    "Chair",
    "ClosedDate",
    "DosingWeightMethod",
    "Indication",
    "InfusionPlan",
    "InfusionSession",
    "Interval",
    "OpeningHours",
    "PlanStatus",
    "Product",
    "Protocol",
    "ProtocolStep",
    "SessionStatus",
    "StaffingDay",
    "Weekday",
]
