"""Dose, vial and rate arithmetic for IVIG infusions: plain numbers, no Django, no I/O.

Sources: docs/ivig-products.md (label ladders, maxima, risk
caps) and docs/clinical-practice.md (dosing weight, vial
rounding, chair time). Values stay unrounded floats; round only for display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

METHODS = ("actual", "ideal", "adjusted", "auto")
MAX_WEIGHT_KG, MAX_DOSE_G_PER_KG, MAX_DAYS = 350.0, 3.0, 5
EPSILON = 1e-9  # float-noise guard for ties, sums and slot multiples


class DosingError(ValueError):
    """Bad input for a dose calculation; .field names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _fmt(value: float) -> str:
    """A number for a warning sentence: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def display_minutes(minutes: float) -> float:
    """Minutes rounded half-up to 0.01 for display."""
    # round() goes half-to-even on the binary value (2.675 -> 2.67); Decimal(repr) rounds as shown.
    return float(Decimal(repr(minutes)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def display_ml_per_hour(rate_ml_per_hour: float) -> float:
    """A pump rate rounded half-up to 0.1 mL/h for display."""
    return float(Decimal(repr(rate_ml_per_hour)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def ideal_body_weight_kg(*, height_cm: float, sex: str) -> float:
    """Devine IBW: 50 kg (male) or 45.5 kg (female) + 2.3 kg per inch over 60 in."""
    if sex not in ("female", "male"):
        raise DosingError("sex", "Sex must be 'female' or 'male' for ideal body weight.")
    return (50.0 if sex == "male" else 45.5) + 2.3 * (height_cm / 2.54 - 60.0)


def adjusted_body_weight_kg(*, actual_kg: float, ideal_kg: float) -> float:
    """IBW + 0.4 x (actual - IBW) (National Blood Authority, BloodSTAR)."""
    return ideal_kg + 0.4 * (actual_kg - ideal_kg)


def body_mass_index(*, weight_kg: float, height_cm: float) -> float:
    """BMI in kg/m^2."""
    if not height_cm > 0:
        raise DosingError("height_cm", "Height must be above 0 cm.")
    return weight_kg / (height_cm / 100.0) ** 2


def _height_and_ibw(height_cm: float | None, sex: str | None) -> tuple[float, float]:
    if height_cm is None or not height_cm > 0:
        raise DosingError("height_cm", "This dosing-weight method needs a height above 0 cm.")
    if sex is None:
        raise DosingError("sex", "This dosing-weight method needs the sex.")
    ibw = ideal_body_weight_kg(height_cm=height_cm, sex=sex)
    if not ibw > 0:  # Devine reaches zero for very short heights: meaningless there
        raise DosingError("height_cm", "Ideal body weight is not usable at this height.")
    return height_cm, ibw


def dosing_weight_kg(
    *, method: str, actual_kg: float, height_cm: float | None = None, sex: str | None = None
) -> float:
    """Weight for dose and per-kg rates (clinical-practice.md); never above actual."""
    if method not in METHODS:
        raise DosingError("dosing_weight_method", f"Unknown dosing-weight method {method!r}.")
    if not actual_kg > 0:
        raise DosingError("weight_kg", "Weight must be above 0 kg.")
    if method == "actual":
        return float(actual_kg)
    height, ibw = _height_and_ibw(height_cm, sex)
    if method == "ideal":
        return min(ibw, actual_kg)
    adjusted = min(adjusted_body_weight_kg(actual_kg=actual_kg, ideal_kg=ibw), actual_kg)
    if method == "adjusted":
        return adjusted
    # auto, after US pharmacy policies: obese (BMI >= 30) or above 120% of IBW.
    bmi = body_mass_index(weight_kg=actual_kg, height_cm=height)
    return adjusted if bmi >= 30.0 or actual_kg > 1.2 * ibw else actual_kg


def grams_per_day(*, dose_g_per_kg: float, dosing_weight_kg: float, days: int) -> float:
    """A course dose (g/kg) split in equal daily doses."""
    if days < 1:
        raise DosingError("days", "A course needs at least one day.")
    return dose_g_per_kg * dosing_weight_kg / days


@dataclass(frozen=True)
class VialCount:
    grams: float
    count: int


@dataclass(frozen=True)
class VialRounding:
    """`rounded` is True when `grams` is a whole-vial amount within tolerance."""

    exact_grams: float
    grams: float
    vials: tuple[VialCount, ...]
    rounded: bool
    warning: str | None


def _vial_units(vial_sizes_g: Sequence[float]) -> tuple[list[int], int]:
    """Vial sizes in integer units of `unit` mg (the sizes' gcd), so sums are exact."""
    if not vial_sizes_g or not all(size > 0 for size in vial_sizes_g):
        raise DosingError("vial_sizes_g", "Vial sizes must be a non-empty list above 0 g.")
    mg = [round(size * 1000) for size in vial_sizes_g]
    if any(abs(size * 1000 - m) > 1e-6 for size, m in zip(vial_sizes_g, mg, strict=True)):
        raise DosingError("vial_sizes_g", "Vial sizes must be whole milligrams.")
    unit = math.gcd(*mg)  # 2.5 g and 5 g vials: 500 mg units, a short table
    return [m // unit for m in mg], unit


def _fewest_vials(limit: int, sizes: list[int]) -> list[tuple[float, int]]:
    """Unbounded coin change to `limit`: (fewest vials, last vial) per amount."""
    table: list[tuple[float, int]] = [(0, 0)] + [(math.inf, 0)] * limit
    largest_first = sorted(sizes, reverse=True)  # on equal counts keep the larger vial
    for amount in range(1, limit + 1):
        for size in largest_first:
            if size <= amount and table[amount - size][0] + 1 < table[amount][0]:
                table[amount] = (table[amount - size][0] + 1, size)
    return table


def _vial_counts(amount: int, table: list[tuple[float, int]], unit: int) -> tuple[VialCount, ...]:
    counts: dict[int, int] = {}
    while amount > 0:
        size = table[amount][1]
        counts[size] = counts.get(size, 0) + 1
        amount -= size
    return tuple(VialCount(s * unit / 1000, n) for s, n in sorted(counts.items(), reverse=True))


def _nearest(exact: float, reachable: list[int]) -> int:
    """The nearest reachable amount; ties go to the smaller."""
    high = next(a for a in reachable if a >= exact - EPSILON)
    low = max((a for a in reachable if a <= exact + EPSILON), default=high)
    return high if high - exact < exact - low - EPSILON else low


def round_to_vials(*, grams: float, vial_sizes_g: Sequence[float], tolerance: float = 0.10) -> VialRounding:
    """Nearest whole-vial amount in fewest vials, within 10% (Siegel 2010; clinical-practice.md).

    When refused, grams stay exact and `vials` is the smallest whole-vial amount
    that covers the dose (fewest vials for it): what the pharmacy must open.
    """
    if not grams > 0:
        raise DosingError("grams", "The dose must be above 0 g.")
    sizes, unit = _vial_units(vial_sizes_g)
    exact = grams * 1000 / unit
    table = _fewest_vials(math.ceil(exact - EPSILON) + max(sizes), sizes)
    # Zero vials is not a dose: the smallest candidate is one vial.
    reachable = [a for a in range(1, len(table)) if table[a][0] < math.inf]
    nearest = _nearest(exact, reachable)
    if abs(nearest - exact) <= tolerance * exact + EPSILON:
        vials = _vial_counts(nearest, table, unit)
        return VialRounding(grams, nearest * unit / 1000, vials, True, None)
    cover = next(a for a in reachable if a >= exact - EPSILON)
    warning = (
        f"Rounding {_fmt(grams)} g to whole vials would give {_fmt(nearest * unit / 1000)} g, "
        f"more than {tolerance:.0%} away, so the exact {_fmt(grams)} g is kept."
    )
    return VialRounding(grams, grams, _vial_counts(cover, table, unit), False, warning)


@dataclass(frozen=True)
class Step:
    """One ladder step; minutes None only for the final run at max until done."""

    rate_mg_kg_min: float
    minutes: float | None


@dataclass(frozen=True)
class LadderStep:
    start_minute: float
    minutes: float
    rate_mg_kg_min: float
    rate_ml_per_hour: float


def ml_per_hour(
    *, rate_mg_kg_min: float, dosing_weight_kg: float, concentration_mg_per_ml: float = 100.0
) -> float:
    """mL/h = mg/kg/min x kg x 60 / (mg/mL): x 60/100 for 10% (ivig-products.md)."""
    return rate_mg_kg_min * dosing_weight_kg * 60.0 / concentration_mg_per_ml


def mg_kg_min(
    *, rate_ml_per_hour: float, dosing_weight_kg: float, concentration_mg_per_ml: float = 100.0
) -> float:
    """The inverse of `ml_per_hour`."""
    return rate_ml_per_hour * concentration_mg_per_ml / (dosing_weight_kg * 60.0)


def effective_max_rate(
    *,
    protocol_max: float,
    risk_cap: float | None = None,
    at_risk: bool = False,
    tolerated_cap: float | None = None,
) -> float:
    """Lowest of protocol max, the label's thrombosis/renal cap if at risk, tolerated cap."""
    caps = (risk_cap if at_risk else None, tolerated_cap)
    limits = [protocol_max, *(cap for cap in caps if cap is not None)]
    if not all(limit > 0 for limit in limits):
        raise DosingError("max_rate", "Rate limits must be above 0 mg/kg/min.")
    return float(min(limits))


def _check_ladder(ladder: Sequence[Step]) -> None:
    # Labels titrate upward. A falling step is a data-entry error, and refusing
    # it keeps "a lower cap never shortens the infusion" true.
    previous = 0.0
    for step in ladder:
        if not step.rate_mg_kg_min > 0 or step.minutes is None or not step.minutes > 0:
            raise DosingError("ladder", "Each ladder step needs a rate and minutes above 0.")
        if step.rate_mg_kg_min < previous:
            raise DosingError("ladder", "Ladder rates must not fall from one step to the next.")
        previous = step.rate_mg_kg_min


def planned_steps(*, ladder: Sequence[Step], max_rate: float) -> list[Step]:
    """Held steps below the max, then Step(max_rate, None): a step at or above
    the max is clamped to it and ends the ladder (ivig-products.md)."""
    _check_ladder(ladder)
    held: list[Step] = []
    for step in ladder:
        if step.rate_mg_kg_min >= max_rate:
            break
        held.append(step)
    return [*held, Step(float(max_rate), None)]


def infusion_schedule(
    *,
    volume_ml: float,
    ladder: Sequence[Step],
    max_rate: float,
    dosing_weight_kg: float,
    concentration_mg_per_ml: float = 100.0,
) -> list[LadderStep]:
    """The steps actually used to run `volume_ml` in; the last may be partial."""
    if not volume_ml > 0:
        raise DosingError("volume_ml", "The volume must be above 0 mL.")
    schedule: list[LadderStep] = []
    remaining, start = volume_ml, 0.0
    for step in planned_steps(ladder=ladder, max_rate=max_rate):
        rate = ml_per_hour(
            rate_mg_kg_min=step.rate_mg_kg_min,
            dosing_weight_kg=dosing_weight_kg,
            concentration_mg_per_ml=concentration_mg_per_ml,
        )
        to_finish = remaining * 60.0 / rate
        if step.minutes is None or to_finish <= step.minutes + EPSILON:  # the dose is in
            schedule.append(LadderStep(start, to_finish, step.rate_mg_kg_min, rate))
            break
        schedule.append(LadderStep(start, float(step.minutes), step.rate_mg_kg_min, rate))
        remaining -= rate * step.minutes / 60.0
        start += step.minutes
    return schedule


def infusion_minutes(schedule: Sequence[LadderStep]) -> float:
    """Total running time of a schedule."""
    return math.fsum(step.minutes for step in schedule)


def chair_minutes(
    *, infusion_minutes: float, before_minutes: int, after_minutes: int, slot_minutes: int
) -> int:
    """Before + infusion + after, rounded up to the slot (clinical-practice.md, Chair time)."""
    if slot_minutes < 1:
        raise DosingError("slot_minutes", "The slot must be at least 1 minute.")
    total = before_minutes + infusion_minutes + after_minutes
    # The epsilon keeps 360.0000001 of float noise in the 360 slot, not 375.
    return math.ceil(total / slot_minutes - EPSILON) * slot_minutes


@dataclass(frozen=True)
class DoseInput:
    actual_weight_kg: float
    dose_g_per_kg: float
    days: int
    ladder: tuple[Step, ...]
    protocol_max_rate: float
    vial_sizes_g: tuple[float, ...]
    concentration_mg_per_ml: float = 100.0
    method: str = "actual"
    height_cm: float | None = None
    sex: str | None = None
    risk_cap: float | None = None
    at_risk: bool = False
    tolerated_cap: float | None = None
    before_minutes: int = 30
    after_minutes: int = 30
    slot_minutes: int = 15


@dataclass(frozen=True)
class DoseResult:
    dosing_weight_kg: float
    grams_per_day_exact: float
    grams_per_day: float
    vials: tuple[VialCount, ...]
    volume_ml_per_day: float
    max_rate_mg_kg_min: float
    max_rate_ml_per_hour: float
    steps: tuple[LadderStep, ...]
    infusion_minutes: float
    chair_minutes: int
    warnings: tuple[str, ...]


def _validate(inp: DoseInput) -> None:
    # The method, vials and ladder are checked where they are used.
    if not 0 < inp.actual_weight_kg <= MAX_WEIGHT_KG:
        raise DosingError("weight_kg", f"Weight must be above 0 and at most {MAX_WEIGHT_KG:g} kg.")
    if not isinstance(inp.days, int) or not 1 <= inp.days <= MAX_DAYS:
        raise DosingError("days", f"A course is given over 1 to {MAX_DAYS} days.")
    if not 0 < inp.dose_g_per_kg <= MAX_DOSE_G_PER_KG:
        limit = f"at most {MAX_DOSE_G_PER_KG:g} g/kg"
        raise DosingError("dose_g_per_kg", f"Dose must be above 0 and {limit}.")
    if not inp.concentration_mg_per_ml > 0:
        raise DosingError("concentration_mg_per_ml", "Concentration must be above 0 mg/mL.")


def _day_dose_warning(inp: DoseInput) -> str | None:
    # Per kg of dosing weight the day's order is dose / days; vial rounding stays
    # within 10% and is not what this warns about. ProDERM's clots came at 2 g/kg.
    per_kg = inp.dose_g_per_kg / inp.days
    if per_kg > 1.0 + EPSILON:
        return f"The day dose {_fmt(per_kg)} g/kg is above 1 g/kg."
    return None


def calculate(inp: DoseInput) -> DoseResult:
    """Dosing weight, grams, vials, volume, rate ladder and chair time for one day."""
    _validate(inp)
    weight = dosing_weight_kg(
        method=inp.method, actual_kg=inp.actual_weight_kg, height_cm=inp.height_cm, sex=inp.sex
    )
    exact = grams_per_day(dose_g_per_kg=inp.dose_g_per_kg, dosing_weight_kg=weight, days=inp.days)
    vials = round_to_vials(grams=exact, vial_sizes_g=inp.vial_sizes_g)
    conc = inp.concentration_mg_per_ml
    volume = vials.grams * 1000.0 / conc
    max_rate = effective_max_rate(
        protocol_max=inp.protocol_max_rate,
        risk_cap=inp.risk_cap,
        at_risk=inp.at_risk,
        tolerated_cap=inp.tolerated_cap,
    )
    steps = infusion_schedule(
        volume_ml=volume,
        ladder=inp.ladder,
        max_rate=max_rate,
        dosing_weight_kg=weight,
        concentration_mg_per_ml=conc,
    )
    minutes = infusion_minutes(steps)
    chair = chair_minutes(
        infusion_minutes=minutes,
        before_minutes=inp.before_minutes,
        after_minutes=inp.after_minutes,
        slot_minutes=inp.slot_minutes,
    )
    max_ml_h = ml_per_hour(rate_mg_kg_min=max_rate, dosing_weight_kg=weight, concentration_mg_per_ml=conc)
    warnings = tuple(w for w in (vials.warning, _day_dose_warning(inp)) if w)
    return DoseResult(
        dosing_weight_kg=weight,
        grams_per_day_exact=exact,
        grams_per_day=vials.grams,
        vials=vials.vials,
        volume_ml_per_day=volume,
        max_rate_mg_kg_min=max_rate,
        max_rate_ml_per_hour=max_ml_h,
        steps=tuple(steps),
        infusion_minutes=minutes,
        chair_minutes=chair,
        warnings=warnings,
    )
