"""The product catalogue: IVIG products and their protocols per indication.

Figures come from the product labels (see the README's catalogue section);
a pharmacist maintains them in the admin.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords


class Indication(models.Model):
    code = models.SlugField(max_length=40, unique=True, help_text="Stable identifier used by the API.")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet):
    def active(self) -> ProductQuerySet:
        return self.filter(is_active=True)

    def by_iga_content(self) -> ProductQuerySet:
        """Lowest IgA first (unknown last): the picker order for IgA-deficient patients."""
        return self.order_by(F("iga_ug_per_ml").asc(nulls_last=True), "name")


class Product(models.Model):
    code = models.SlugField(max_length=40, unique=True, help_text="Stable identifier used by the API.")
    name = models.CharField(max_length=100)
    manufacturer = models.CharField(max_length=100)
    concentration_mg_per_ml = models.PositiveIntegerField(
        default=100, help_text="100 mg/mL for a 10% liquid."
    )
    vial_sizes_g = models.JSONField(help_text="Vial or bottle sizes in grams, e.g. [2, 5, 10, 20].")
    iga_ug_per_ml = models.DecimalField(
        "IgA (µg/mL)",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Average or upper bound from the label; blank when the label gives none.",
    )
    contains_maltose = models.BooleanField(default=False)
    risk_cap_mg_kg_min = models.DecimalField(
        "risk cap (mg/kg/min)",
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Maximum rate for patients at risk of thrombosis or renal dysfunction.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Only active products can be planned; a ladder must be confirmed first."
    )
    notes = models.TextField(blank=True, help_text="Label sources and remarks.")

    history = HistoricalRecords()
    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(concentration_mg_per_ml__gt=0), name="product_concentration_positive"
            ),
            models.CheckConstraint(
                condition=Q(risk_cap_mg_kg_min__isnull=True) | Q(risk_cap_mg_kg_min__gt=0),
                name="product_risk_cap_positive",
            ),
            models.CheckConstraint(
                condition=Q(iga_ug_per_ml__isnull=True) | Q(iga_ug_per_ml__gte=0),
                name="product_iga_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def vial_sizes(self) -> tuple[float, ...]:
        return tuple(float(size) for size in self.vial_sizes_g)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        sizes = self.vial_sizes_g
        if (
            not isinstance(sizes, list)
            or not sizes
            or not all(isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in sizes)
        ):
            raise ValidationError({"vial_sizes_g": "Give a list of positive vial sizes in grams."})


class ProtocolQuerySet(models.QuerySet):
    def schedulable(self) -> ProtocolQuerySet:
        return self.filter(product__is_active=True, ladder_confirmed=True)


class Protocol(models.Model):
    """How one product is given for one indication: the rate ladder and maximum.

    The same product has a different maximum rate per indication (Octagam 10%:
    4 mg/kg/min for dermatomyositis, 12 for chronic ITP).
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="protocols")
    indication = models.ForeignKey(Indication, on_delete=models.PROTECT, related_name="protocols")
    start_rate_mg_kg_min = models.DecimalField("label start rate (mg/kg/min)", max_digits=7, decimal_places=4)
    max_rate_mg_kg_min = models.DecimalField("maximum rate (mg/kg/min)", max_digits=7, decimal_places=4)
    ladder_confirmed = models.BooleanField(
        default=True, help_text="The center has confirmed the steps below; needed before scheduling."
    )
    usual_dose = models.CharField(max_length=200, blank=True)
    source = models.TextField(blank=True)

    history = HistoricalRecords()
    objects = ProtocolQuerySet.as_manager()

    class Meta:
        ordering = ["product__name", "indication__name"]
        constraints = [
            models.UniqueConstraint(fields=["product", "indication"], name="protocol_unique_per_indication"),
            models.CheckConstraint(
                condition=Q(start_rate_mg_kg_min__gt=0), name="protocol_start_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_rate_mg_kg_min__gte=F("start_rate_mg_kg_min")),
                name="protocol_max_not_below_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} — {self.indication}"


class ProtocolStep(models.Model):
    """One rung of the rate ladder: a rate held for some minutes."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    rate_mg_kg_min = models.DecimalField("rate (mg/kg/min)", max_digits=7, decimal_places=4)
    minutes = models.PositiveSmallIntegerField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "position"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "position"], name="protocol_step_unique_position"),
            models.CheckConstraint(condition=Q(rate_mg_kg_min__gt=0), name="protocol_step_rate_positive"),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="protocol_step_minutes_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rate_mg_kg_min} mg/kg/min × {self.minutes} min"
