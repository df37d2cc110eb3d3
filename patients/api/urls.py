from __future__ import annotations

from rest_framework.routers import SimpleRouter

from patients.api.views import PatientViewSet

router = SimpleRouter()
router.register("patients", PatientViewSet, basename="patient")

urlpatterns = router.urls
