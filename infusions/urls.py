from __future__ import annotations

from django.urls import path

from infusions import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("r/<str:token>/", views.reminder_link, name="reminder-link"),
]
