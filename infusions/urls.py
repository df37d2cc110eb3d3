"""Page addresses. Keep them stable: bookmarks and reminder links depend on them."""

from __future__ import annotations

from django.urls import path

from infusions import views
from infusions.pages import alerts, board, patients, plans, portal, sessions

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("r/<str:token>/", views.reminder_link, name="reminder-link"),
    path("board/", board.day_board, name="board"),
    path("load/", board.week_load, name="load"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient"),
    path("plans/new/", plans.plan_new, name="plan-new"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan"),
    path("sessions/<int:pk>/", sessions.session_page, name="session"),
    path("alerts/", alerts.alerts, name="alerts"),
    path("portal/", portal.portal_home, name="portal"),
    path("portal/calendar/<str:token>.ics", portal.portal_calendar, name="portal-calendar"),
]
