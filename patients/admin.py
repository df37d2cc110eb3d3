from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from patients.models import Patient, PatientWeight


class PatientWeightInline(admin.TabularInline):
    model = PatientWeight
    extra = 1
    fields = ["weight_kg", "measured_on", "recorded_by"]
    readonly_fields = ["recorded_by"]


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "iga_status", "reminder_channel"]
    list_filter = ["sex", "iga_status", "thrombosis_risk", "renal_risk", "diabetes", "reminder_channel"]
    search_fields = ["mrn", "family_name", "given_name", "email"]
    inlines = [PatientWeightInline]
    raw_id_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["mrn", "given_name", "family_name", "date_of_birth", "sex", "height_cm"]}),
        (
            "Safety",
            {
                "fields": [
                    "iga_status",
                    "thrombosis_risk",
                    "renal_risk",
                    "diabetes",
                    "tolerated_max_rate_mg_kg_min",
                ]
            },
        ),
        (
            "Contact and reminders",
            {
                "fields": [
                    "time_zone",
                    "email",
                    "phone",
                    "reminder_channel",
                    "quiet_hours_start",
                    "quiet_hours_end",
                ]
            },
        ),
        ("Portal", {"fields": ["user"]}),
    ]

    def save_formset(self, request, form, formset, change) -> None:
        for weight in formset.save(commit=False):
            weight.recorded_by = weight.recorded_by or request.user
            weight.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(PatientWeight)
class PatientWeightAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "weight_kg", "measured_on", "recorded_by"]
    list_filter = ["measured_on"]
    search_fields = ["patient__mrn", "patient__family_name"]
    raw_id_fields = ["patient"]
    date_hierarchy = "measured_on"
