"""Chairside records: rate changes, vitals, reactions, premedication and product lots.

Every record is append-only: a mistake is corrected by a new entry of the same
kind that `amends` the wrong one and says why (`reason`); nothing is edited or
deleted, and simple-history keeps who wrote each row. An entry can be amended
once (a one-to-one link), so "the entries in force" are those nobody amended.
The rules that decide whether an entry is accepted live in `infusions/chairside/`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from infusions.models.catalogue import Product
from infusions.models.sessions import InfusionSession

__all__ = [
    "SYMPTOM_CODES",
    "VITAL_RANGES",
    "LotUse",
    "Premedication",
    "PremedicationRoute",
    "RateChange",
    "Reaction",
    "ReactionAction",
    "ReactionSeverity",
    "VitalSigns",
]

# Plausible ranges for entry checks (docs/clinical-practice.md, Vital signs): field -> (low, high, unit).
VITAL_RANGES: dict[str, tuple[int, int, str]] = {
    "systolic": (50, 260, "mmHg"),
    "diastolic": (20, 160, "mmHg"),
    "heart_rate": (20, 250, "/min"),
    "temperature_c": (30, 44, "°C"),
    "spo2": (50, 100, "%"),
    "respiratory_rate": (4, 60, "/min"),
}

# Signs named in docs/clinical-practice.md (Reactions, and the thrombosis and
# renal red flags), as stable codes; "other" needs the free text.
SYMPTOM_CODES = (
    "headache",
    "flushing",
    "fever",
    "chills",
    "myalgia",
    "nausea",
    "vomiting",
    "urticaria",
    "blood_pressure_change",
    "tachycardia",
    "anaphylaxis",
    "bronchospasm",
    "hypotension",
    "chest_pain",
    "thrombosis_signs",
    "limb_pain_or_swelling",
    "breathlessness",
    "one_sided_weakness",
    "reduced_urine",
    "severe_headache",
    "neck_stiffness",
    "dark_urine",
    "other",
)


class ReactionSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class ReactionAction(models.TextChoices):
    SLOWED = "slowed", "Slowed"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped for good"


class PremedicationRoute(models.TextChoices):
    ORAL = "oral", "Oral"
    IV = "iv", "Intravenous"
    IM = "im", "Intramuscular"
    SC = "sc", "Subcutaneous"


class ChairsideEntry(models.Model):
    """What every chairside record has: when it happened, who wrote it, what it corrects."""

    at = models.DateTimeField(help_text="When it happened (not when it was typed).")
    amends = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amended_by",
        help_text="The entry of the same kind and session that this one corrects.",
    )
    reason = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amends__isnull=True) | ~Q(reason=""),
                name="%(app_label)s_%(class)s_amendment_has_reason",
            ),
        ]


class RateChange(ChairsideEntry):
    """A pump rate set at the chair; 0 mL/h is a pause."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="rate_changes")
    rate_ml_per_hour = models.DecimalField(max_digits=5, decimal_places=1)
    rate_mg_kg_min = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="At the dosing weight below."
    )
    dosing_weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, help_text="The session's dosing weight when the rate was logged."
    )

    class Meta(ChairsideEntry.Meta):
        constraints = [
            *ChairsideEntry.Meta.constraints,
            models.CheckConstraint(
                condition=Q(rate_ml_per_hour__gte=0, rate_mg_kg_min__gte=0), name="rate_change_not_negative"
            ),
            models.CheckConstraint(condition=Q(dosing_weight_kg__gt=0), name="rate_change_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rate_ml_per_hour} mL/h at {self.at:%H:%M} UTC"


class VitalSigns(ChairsideEntry):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="vital_signs")
    systolic = models.PositiveSmallIntegerField("systolic (mmHg)", null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField("diastolic (mmHg)", null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField("heart rate (/min)", null=True, blank=True)
    temperature_c = models.DecimalField(
        "temperature (°C)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    spo2 = models.PositiveSmallIntegerField("SpO2 (%)", null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField("respiratory rate (/min)", null=True, blank=True)

    class Meta(ChairsideEntry.Meta):
        verbose_name_plural = "vital signs"
        constraints = [
            *ChairsideEntry.Meta.constraints,
            models.CheckConstraint(
                condition=Q(systolic__isnull=False)
                | Q(diastolic__isnull=False)
                | Q(heart_rate__isnull=False)
                | Q(temperature_c__isnull=False)
                | Q(spo2__isnull=False)
                | Q(respiratory_rate__isnull=False),
                name="vital_signs_at_least_one",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{field}__isnull": True})
                    | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
                    name=f"vital_signs_{field}_plausible",
                )
                for field, (low, high, _) in VITAL_RANGES.items()
            ),
        ]

    def __str__(self) -> str:
        return f"Vitals at {self.at:%H:%M} UTC"


class Reaction(ChairsideEntry):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="reactions")
    severity = models.CharField(max_length=8, choices=ReactionSeverity.choices)
    symptoms = models.JSONField(default=list, blank=True, help_text="Codes from SYMPTOM_CODES.")
    symptom_notes = models.CharField(max_length=500, blank=True, help_text="Free text.")
    action = models.CharField(max_length=8, choices=ReactionAction.choices)
    cap_set_mg_kg_min = models.DecimalField(
        "tolerated cap set (mg/kg/min)",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="The patient's tolerated cap this reaction set, if it set one.",
    )

    class Meta(ChairsideEntry.Meta):
        constraints = [
            *ChairsideEntry.Meta.constraints,
            models.CheckConstraint(
                condition=Q(severity__in=ReactionSeverity.values), name="reaction_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(action__in=ReactionAction.values), name="reaction_action_valid"
            ),
            # docs/clinical-practice.md: a severe reaction stops the infusion for good.
            models.CheckConstraint(
                condition=~Q(severity=ReactionSeverity.SEVERE) | Q(action=ReactionAction.STOPPED),
                name="reaction_severe_stops",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} reaction at {self.at:%H:%M} UTC"


class Premedication(ChairsideEntry):
    """A premedication given (the order is on the plan)."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="premedications")
    drug = models.CharField(max_length=80)
    dose = models.CharField(max_length=40)
    route = models.CharField(max_length=4, choices=PremedicationRoute.choices)

    class Meta(ChairsideEntry.Meta):
        constraints = [
            *ChairsideEntry.Meta.constraints,
            models.CheckConstraint(
                condition=Q(route__in=PremedicationRoute.values), name="premed_route_valid"
            ),
            models.CheckConstraint(condition=~Q(drug="") & ~Q(dose=""), name="premed_drug_and_dose"),
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose} {self.route}"


class LotUse(ChairsideEntry):
    """Vials of one product lot that went into a session: what a recall searches."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="lots")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lot_uses")
    lot_number = models.CharField(max_length=40, db_index=True, help_text="Stored in capitals.")
    expiry = models.DateField()
    vial_grams = models.DecimalField(max_digits=5, decimal_places=2)
    count = models.PositiveSmallIntegerField()

    class Meta(ChairsideEntry.Meta):
        constraints = [
            *ChairsideEntry.Meta.constraints,
            models.CheckConstraint(condition=Q(count__gte=1), name="lot_use_count_positive"),
            models.CheckConstraint(condition=Q(vial_grams__gt=0), name="lot_use_vial_positive"),
            models.CheckConstraint(condition=~Q(lot_number=""), name="lot_use_number_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot_number} × {self.count}"
