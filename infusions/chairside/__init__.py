"""Chairside documentation: the rules every entry at the chair is checked against,
and what an entry changes (a pause, the patient's tolerated cap, later bookings,
the grams infused at completion).

Sources: docs/ivig-products.md (ladders, maxima, risk caps) and
docs/clinical-practice.md (vital-sign ranges, reactions). Rates are compared
with the limit as the nurse reads it (0.1 mL/h, half up, as the planned ladder
shows it), so following the planned ladder to the displayed rate is never refused.

The ladder clock: a rate may not exceed the planned ladder rate for the minutes
elapsed since the infusion started (`session.started_at`). After a pause (a
reaction whose action is `paused` or `stopped`, or a rate of 0 mL/h) the next
rate above 0 is a restart and re-titrates: the clock starts again at the
restart, so the restart may be at most the ladder's first rate and each later
step comes when the ladder allows it, counted from the restart.

The package:
- `common`: the refusal, the entry kinds, the time checks, the entries in force;
- `ratelog`: the rate log and the periods each rate ran for;
- `limits`: the planned ladder and its clock, the dosing weight, the effective maximum;
- `records`: the `*_record` services and corrections (amends);
- `consequences`: a reaction's tolerated cap, re-planning later sessions, clearing the cap;
- `completion`: the grams infused and completing a session;
- `timeline`: each rate beside the planned ladder, for reading the record.
"""

from infusions.chairside.common import (
    EPSILON,
    FUTURE_GRACE,
    KINDS,
    EntryKind,
    EntryRefused,
    describe_rate,
    in_force,
)
from infusions.chairside.completion import GRAMS_TOLERANCE, grams_infused, session_complete
from infusions.chairside.consequences import (
    ReactionOutcome,
    Replanning,
    later_sessions_replan,
    tolerated_cap,
    tolerated_cap_clear,
)
from infusions.chairside.limits import (
    LadderPosition,
    RateLimit,
    effective_limit,
    ladder_positions,
    planned_ladder,
    session_dosing_weight,
)
from infusions.chairside.ratelog import RateEvent, RatePeriod, rate_events, rate_periods, volume_infused_ml
from infusions.chairside.records import (
    LOT_NUMBER,
    MAX_VIALS,
    VITAL_LABELS,
    lot_record,
    normalized_lot_number,
    premedication_record,
    rate_change_record,
    reaction_record,
    vitals_record,
)
from infusions.chairside.timeline import planned_ladder_rows, planned_rate_ml_per_hour, positions_by_entry

__all__ = [
    "EPSILON",
    "FUTURE_GRACE",
    "GRAMS_TOLERANCE",
    "KINDS",
    "LOT_NUMBER",
    "MAX_VIALS",
    "VITAL_LABELS",
    "EntryKind",
    "EntryRefused",
    "LadderPosition",
    "RateEvent",
    "RateLimit",
    "RatePeriod",
    "ReactionOutcome",
    "Replanning",
    "describe_rate",
    "effective_limit",
    "grams_infused",
    "in_force",
    "ladder_positions",
    "later_sessions_replan",
    "lot_record",
    "normalized_lot_number",
    "planned_ladder",
    "planned_ladder_rows",
    "planned_rate_ml_per_hour",
    "positions_by_entry",
    "premedication_record",
    "rate_change_record",
    "rate_events",
    "rate_periods",
    "reaction_record",
    "session_complete",
    "session_dosing_weight",
    "tolerated_cap",
    "tolerated_cap_clear",
    "vitals_record",
    "volume_infused_ml",
]
