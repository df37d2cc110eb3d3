from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from infusions.api import views
from infusions.api.dose import DoseCalculationView
from infusions.api.plans import PlanViewSet
from infusions.api.reminders import ReminderViewSet
from infusions.api.sessions import AvailabilityView, SessionViewSet

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("protocols", views.ProtocolViewSet, basename="protocol")
router.register("centers", views.CenterViewSet, basename="center")
router.register("chairs", views.ChairViewSet, basename="chair")
router.register("plans", PlanViewSet, basename="plan")
router.register("sessions", SessionViewSet, basename="session")
router.register("reminders", ReminderViewSet, basename="reminder")

urlpatterns = [
    path("dose-calculations/", DoseCalculationView.as_view(), name="dose-calculations"),
    path("availability/", AvailabilityView.as_view(), name="availability"),
    *router.urls,
    path("", include("infusions.api.records")),
]
