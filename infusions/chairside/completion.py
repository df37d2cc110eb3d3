"""Completing a session: the grams infused by the rate log and the warnings it leaves."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from infusions.chairside.common import _clock, _locked
from infusions.chairside.ratelog import rate_events, rate_periods, volume_infused_ml
from infusions.models import InfusionSession, Reaction
from infusions.scheduling.booking import session_transition

GRAMS_TOLERANCE = 0.05  # more than 5% off the planned grams is a warning at completion


def grams_infused(session: InfusionSession) -> float:
    """Grams from the rate log: each rate held until the next entry or completion (a pause runs
    0 mL/h), integrated over time, × the product's concentration."""
    events = rate_events(session.rate_changes.all(), session.reactions.all())
    periods = rate_periods(events, until=session.completed_at or timezone.now())
    return volume_infused_ml(periods) * session.plan.product.concentration_mg_per_ml / 1000


@transaction.atomic
def session_complete(
    *, session: InfusionSession, by=None, stopped_by: Reaction | None = None
) -> InfusionSession:
    """In progress → completed; records the grams infused and any warning on the session."""
    session_transition(session=session, action="complete", by=by)
    session = _locked(session)
    warnings = []
    if stopped_by is not None:
        warnings.append(
            f"Stopped early after a {stopped_by.severity} reaction at {_clock(stopped_by.at, session)}."
        )
    if session.plan is not None:
        infused = grams_infused(session)
        session.grams_infused = Decimal(repr(infused)).quantize(Decimal("0.01"))
        planned = float(session.grams) if session.grams else None
        if planned and abs(infused - planned) > GRAMS_TOLERANCE * planned:
            warnings.append(
                f"{infused:.1f} g infused by the rate log, {(infused - planned) / planned:+.1%} from the "
                f"planned {planned:g} g (more than {GRAMS_TOLERANCE:.0%})."
            )
    session.infusion_warnings = [*session.infusion_warnings, *warnings]
    session._history_user = by if getattr(by, "is_authenticated", False) else None
    session.save(update_fields=["grams_infused", "infusion_warnings", "updated_at"])
    return session
