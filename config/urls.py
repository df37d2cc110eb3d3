from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.auth_api import TokenView

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("", include("patients.api.urls")),
    path("", include("infusions.api.urls")),
]

handler400 = "config.api.bad_request"
handler404 = "config.api.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("infusions.urls")),
]
