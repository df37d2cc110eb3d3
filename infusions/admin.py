from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from infusions.calculations import Contraindicated, plan_dose
from infusions.dosing import DosingError
from infusions.models import (
    Center,
    Chair,
    ClosedDate,
    Indication,
    InfusionPlan,
    InfusionSession,
    LotUse,
    OpeningHours,
    Premedication,
    Product,
    Protocol,
    ProtocolStep,
    RateChange,
    Reaction,
    StaffingDay,
    VitalSigns,
)


@admin.register(Indication)
class IndicationAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class ProtocolInline(admin.TabularInline):
    model = Protocol
    extra = 0
    fields = ["indication", "start_rate_mg_kg_min", "max_rate_mg_kg_min", "ladder_confirmed"]
    show_change_link = True


@admin.register(Product)
class ProductAdmin(SimpleHistoryAdmin):
    list_display = [
        "name",
        "code",
        "manufacturer",
        "iga_ug_per_ml",
        "contains_maltose",
        "risk_cap_mg_kg_min",
        "is_active",
    ]
    list_filter = ["is_active", "contains_maltose", "manufacturer"]
    search_fields = ["name", "code", "manufacturer"]
    inlines = [ProtocolInline]


class ProtocolStepInline(admin.TabularInline):
    model = ProtocolStep
    extra = 0
    fields = ["position", "rate_mg_kg_min", "minutes"]


@admin.register(Protocol)
class ProtocolAdmin(SimpleHistoryAdmin):
    list_display = ["product", "indication", "start_rate_mg_kg_min", "max_rate_mg_kg_min", "ladder_confirmed"]
    list_filter = ["ladder_confirmed", "indication", "product"]
    search_fields = ["product__name", "product__code", "indication__name", "indication__code"]
    list_select_related = ["product", "indication"]
    inlines = [ProtocolStepInline]


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0


class ChairInline(admin.TabularInline):
    model = Chair
    extra = 0


@admin.register(Center)
class CenterAdmin(SimpleHistoryAdmin):
    list_display = ["name", "short_name", "time_zone", "slot_minutes", "patients_per_nurse"]
    search_fields = ["name", "short_name"]
    list_filter = ["time_zone"]
    inlines = [OpeningHoursInline, ClosedDateInline, ChairInline]


@admin.register(Chair)
class ChairAdmin(admin.ModelAdmin):
    list_display = ["name", "center", "is_active"]
    list_filter = ["center", "is_active"]
    search_fields = ["name", "center__name"]


@admin.register(StaffingDay)
class StaffingDayAdmin(SimpleHistoryAdmin):
    list_display = ["center", "date", "nurses_on_duty"]
    list_filter = ["center"]
    date_hierarchy = "date"
    search_fields = ["center__name"]


@admin.register(InfusionPlan)
class InfusionPlanAdmin(SimpleHistoryAdmin):
    list_display = [
        "id",
        "patient",
        "protocol",
        "dose_g_per_kg",
        "days_per_course",
        "interval",
        "start_date",
        "status",
    ]
    list_filter = ["status", "interval", "center", "protocol__product", "protocol__indication"]
    search_fields = ["patient__mrn", "patient__family_name"]
    list_select_related = ["patient", "protocol__product", "protocol__indication"]
    raw_id_fields = ["patient", "created_by"]
    date_hierarchy = "start_date"
    readonly_fields = ["computed_dose"]

    @admin.display(description="Day dose (patient as now)")
    def computed_dose(self, plan: InfusionPlan) -> str:
        if plan.pk is None:
            return "Shown once the plan is saved."
        try:
            dose = plan_dose(plan)
        except (DosingError, Contraindicated) as exc:
            return f"Cannot compute: {exc}"
        vials = ", ".join(f"{v.count} × {v.grams:g} g" for v in dose.vials)
        lines = [
            f"{dose.grams_per_day:g} g a day ({vials}), {dose.volume_ml_per_day:g} mL",
            f"dosing weight {dose.dosing_weight_kg:.1f} kg; maximum {dose.max_rate_ml_per_hour:.1f} mL/h",
            f"infusion {dose.infusion_minutes:.2f} min; chair {dose.chair_minutes} min",
            *dose.warnings,
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


@admin.register(InfusionSession)
class InfusionSessionAdmin(SimpleHistoryAdmin):
    list_display = ["id", "patient", "center", "chair", "start", "end", "status", "version"]
    list_filter = ["status", "center"]
    search_fields = ["patient__mrn", "patient__family_name"]
    list_select_related = ["patient", "center", "chair"]
    raw_id_fields = ["patient", "plan"]
    date_hierarchy = "start"
    readonly_fields = ["version"]


# -- chairside records: append-only, so the admin only shows them and their history --------


class ChairsideEntryAdmin(SimpleHistoryAdmin):
    """Read-only: a correction is a new entry that amends the wrong one (through the API)."""

    list_select_related = ["session", "recorded_by"]
    search_fields = ["session__patient__mrn"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RateChange)
class RateChangeAdmin(ChairsideEntryAdmin):
    list_display = ["id", "session", "at", "rate_ml_per_hour", "rate_mg_kg_min", "dosing_weight_kg", "amends"]


@admin.register(VitalSigns)
class VitalSignsAdmin(ChairsideEntryAdmin):
    list_display = [
        "id",
        "session",
        "at",
        "systolic",
        "diastolic",
        "heart_rate",
        "temperature_c",
        "spo2",
        "amends",
    ]


@admin.register(Reaction)
class ReactionAdmin(ChairsideEntryAdmin):
    list_display = ["id", "session", "at", "severity", "action", "cap_set_mg_kg_min", "amends"]
    list_filter = ["severity", "action"]


@admin.register(Premedication)
class PremedicationAdmin(ChairsideEntryAdmin):
    list_display = ["id", "session", "at", "drug", "dose", "route", "amends"]


@admin.register(LotUse)
class LotUseAdmin(ChairsideEntryAdmin):
    list_display = ["id", "session", "at", "product", "lot_number", "expiry", "vial_grams", "count", "amends"]
    list_filter = ["product"]
    list_select_related = ["session", "recorded_by", "product"]
    search_fields = ["lot_number", "session__patient__mrn"]
