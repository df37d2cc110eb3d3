"""Chairside records under /api/v1/sessions/{session_id}/, the lot recall, the sessions
flagged for rebooking and the admin's reset of a patient's tolerated cap.

Records are append-only: each kind has a list (GET, POST) and a detail (GET);
PUT, PATCH and DELETE answer 405. Nurses and admins write; schedulers, nurses
and admins read; patients and pharmacists see none of it (403, before any
lookup, so a patient cannot learn which sessions exist). Pharmacists and admins
read a lot's recipients.

The package (included by infusions/api/urls.py; the routes are here):
- `serializers`: what each record shows, and what a new entry takes;
- `entries`: one session's records, a list and a detail per kind;
- `timeline`: the session's timeline beside the planned ladder, and its FHIR Bundle;
- `lots`: a lot's recipients, for a recall;
- `replanning`: the sessions flagged for rebooking, and clearing a patient's tolerated cap.
"""

from django.urls import path

from infusions.api.records.entries import (
    RECORD_READERS,
    RECORD_WRITERS,
    EntryDetailView,
    EntryListView,
    LotUseDetailView,
    LotUseListView,
    PremedicationDetailView,
    PremedicationListView,
    RateChangeDetailView,
    RateChangeListView,
    ReactionDetailView,
    ReactionListView,
    SessionScopedMixin,
    VitalSignsDetailView,
    VitalSignsListView,
)
from infusions.api.records.lots import RECALL_READERS, LotRecipientSerializer, LotRecipientsView
from infusions.api.records.replanning import (
    CapClearedSerializer,
    CapClearInput,
    FlaggedSessionSerializer,
    FlaggedSessionsView,
    ToleratedCapClearView,
)
from infusions.api.records.serializers import (
    MAX_ID,
    SESSION_STATUS_TEXT,
    EntryInput,
    EntrySerializer,
    LotUseInput,
    LotUseSerializer,
    PremedicationInput,
    PremedicationSerializer,
    RateChangeInput,
    RateChangeSerializer,
    ReactionConsequences,
    ReactionInput,
    ReactionRecordedSerializer,
    ReactionSerializer,
    VitalSignsInput,
    VitalSignsSerializer,
)
from infusions.api.records.timeline import (
    FhirBundleView,
    PlannedStepSerializer,
    TimelineEntry,
    TimelineSessionSerializer,
    TimelineView,
)

__all__ = [
    "ENTRY_ROUTES",
    "MAX_ID",
    "RECALL_READERS",
    "RECORD_READERS",
    "RECORD_WRITERS",
    "SESSION_STATUS_TEXT",
    "CapClearInput",
    "CapClearedSerializer",
    "EntryDetailView",
    "EntryInput",
    "EntryListView",
    "EntrySerializer",
    "FhirBundleView",
    "FlaggedSessionSerializer",
    "FlaggedSessionsView",
    "LotRecipientSerializer",
    "LotRecipientsView",
    "LotUseDetailView",
    "LotUseInput",
    "LotUseListView",
    "LotUseSerializer",
    "PlannedStepSerializer",
    "PremedicationDetailView",
    "PremedicationInput",
    "PremedicationListView",
    "PremedicationSerializer",
    "RateChangeDetailView",
    "RateChangeInput",
    "RateChangeListView",
    "RateChangeSerializer",
    "ReactionConsequences",
    "ReactionDetailView",
    "ReactionInput",
    "ReactionListView",
    "ReactionRecordedSerializer",
    "ReactionSerializer",
    "SessionScopedMixin",
    "TimelineEntry",
    "TimelineSessionSerializer",
    "TimelineView",
    "ToleratedCapClearView",
    "VitalSignsDetailView",
    "VitalSignsInput",
    "VitalSignsListView",
    "VitalSignsSerializer",
    "urlpatterns",
]

# -- routes -------------------------------------------------------------------------------------

ENTRY_ROUTES = (
    ("rate-changes", RateChangeListView, RateChangeDetailView),
    ("vitals", VitalSignsListView, VitalSignsDetailView),
    ("reactions", ReactionListView, ReactionDetailView),
    ("premedications", PremedicationListView, PremedicationDetailView),
    ("lots", LotUseListView, LotUseDetailView),
)

urlpatterns = [
    *(
        route
        for segment, listing, detail in ENTRY_ROUTES
        for route in (
            path(f"sessions/<int:session_id>/{segment}/", listing.as_view(), name=f"session-{segment}"),
            path(
                f"sessions/<int:session_id>/{segment}/<int:pk>/",
                detail.as_view(),
                name=f"session-{segment}-detail",
            ),
        )
    ),
    path("sessions/<int:session_id>/timeline/", TimelineView.as_view(), name="session-timeline"),
    path("sessions/<int:session_id>/fhir/", FhirBundleView.as_view(), name="session-fhir"),
    path("lots/<str:lot_number>/recipients/", LotRecipientsView.as_view(), name="lot-recipients"),
    path("flagged-sessions/", FlaggedSessionsView.as_view(), name="flagged-sessions"),
    path(
        "patients/<int:patient_id>/clear-tolerated-cap/",
        ToleratedCapClearView.as_view(),
        name="patient-clear-tolerated-cap",
    ),
]
