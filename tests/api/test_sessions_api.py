"""The booking API: plans/{id}/book/, sessions/, the status actions and availability/."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models import ClosedDate, InfusionSession
from tests.factories import CenterFactory, ChairFactory, PatientWeightFactory, PlanFactory

SESSIONS = "/api/v1/sessions/"
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # before every start booked here


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def center(db):
    center = CenterFactory()
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    return center


@pytest.fixture
def as_scheduler(client_for, scheduler):
    return client_for(scheduler)


def book_one(client, patient, center, start="2027-01-04T09:00:00-05:00", **extra):
    body = {"patient": patient.pk, "center": center.pk, "start": start, "chair_minutes": 120, **extra}
    return client.post(SESSIONS, body, format="json")


def test_booking_a_plan_returns_every_session_in_local_time(as_scheduler, patient_a, center):
    plan = PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 3, 1), course_count=2)

    response = as_scheduler.post(f"/api/v1/plans/{plan.pk}/book/")

    assert response.status_code == 201, response.json()
    sessions = response.json()
    assert [(s["course"], s["day"]) for s in sessions] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # 1 March is EST, 29 March EDT: both 09:00 on the wall clock.
    assert [s["start"] for s in sessions] == [
        "2027-03-01T09:00:00-05:00",
        "2027-03-02T09:00:00-05:00",
        "2027-03-29T09:00:00-04:00",
        "2027-03-30T09:00:00-04:00",
    ]
    first = sessions[0]
    assert set(first) == {
        "id",
        "patient",
        "plan",
        "center",
        "chair",
        "start",
        "end",
        "status",
        "version",
        "course",
        "day",
        "grams",
        "volume_ml",
        "chair_minutes",
    }
    assert (first["grams"], first["volume_ml"], first["chair_minutes"]) == (70.0, 700.0, 390)
    assert first["end"] == "2027-03-01T15:30:00-05:00"


def test_a_plan_that_cannot_be_booked_answers_409_with_each_course_and_books_nothing(
    as_scheduler, patient_a, center
):
    ClosedDate.objects.bulk_create(
        [ClosedDate(center=center, date=dt.date(2027, 3, 29) + dt.timedelta(days=n)) for n in range(7)]
    )
    plan = PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 3, 1), course_count=2)

    response = as_scheduler.post(f"/api/v1/plans/{plan.pk}/book/")

    assert response.status_code == 409
    body = response.json()
    assert body["detail"]
    [conflict] = body["conflicts"]
    assert (conflict["course"], conflict["day"], conflict["date"]) == (2, 1, "2027-03-29")
    assert conflict["reasons"] == ["center_closed"]
    assert 1 <= len(conflict["alternatives"]) <= 3
    assert conflict["alternatives"][0]["start"].startswith("2027-04-05T09:00:00-04:00")
    assert not InfusionSession.objects.exists()


def test_booking_one_session_picks_a_chair_and_refuses_a_clash(as_scheduler, patient_a, patient_b, center):
    first = book_one(as_scheduler, patient_a, center)
    same_patient = book_one(as_scheduler, patient_a, center, start="2027-01-04T10:00:00-05:00")

    assert first.status_code == 201
    assert first.json()["chair"] in set(center.chairs.values_list("pk", flat=True))
    assert same_patient.status_code == 409
    assert same_patient.json()["reasons"] == ["patient_busy"]
    chair = first.json()["chair"]
    clash = book_one(as_scheduler, patient_b, center, chair=chair, start="2027-01-04T10:00:00-05:00")
    assert clash.status_code == 409 and clash.json()["reasons"] == ["chair_busy"]
    assert InfusionSession.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("2027-01-04T09:00:00", "UTC offset"),
        ("2027-03-14T02:30:00-05:00", "not a wall-clock time"),
        ("not a date", "Datetime has wrong format"),
    ],
)
def test_a_start_without_a_real_offset_is_a_400(as_scheduler, patient_a, center, start, message):
    response = book_one(as_scheduler, patient_a, center, start=start)
    assert response.status_code == 400
    assert message in response.json()["start"][0]
    assert not InfusionSession.objects.exists()


def test_a_session_without_a_plan_needs_chair_minutes(as_scheduler, patient_a, center):
    response = as_scheduler.post(
        SESSIONS,
        {"patient": patient_a.pk, "center": center.pk, "start": "2027-01-04T09:00:00-05:00"},
        format="json",
    )
    assert response.status_code == 400 and "chair_minutes" in response.json()


def test_a_chair_of_another_center_is_refused(as_scheduler, patient_a, center):
    elsewhere = ChairFactory()
    response = book_one(as_scheduler, patient_a, center, chair=elsewhere.pk)
    assert response.status_code == 400 and "chair" in response.json()


def test_rescheduling_bumps_the_version_and_a_clash_changes_nothing(
    as_scheduler, patient_a, patient_b, center
):
    mine = book_one(as_scheduler, patient_a, center).json()
    theirs = book_one(as_scheduler, patient_b, center, start="2027-01-04T13:00:00-05:00").json()

    moved = as_scheduler.patch(
        f"{SESSIONS}{mine['id']}/", {"start": "2027-01-05T10:00:00-05:00"}, format="json"
    )
    clash = as_scheduler.patch(
        f"{SESSIONS}{mine['id']}/",
        {"start": "2027-01-04T13:30:00-05:00", "chair": theirs["chair"]},
        format="json",
    )

    assert moved.status_code == 200
    assert (moved.json()["start"], moved.json()["version"]) == ("2027-01-05T10:00:00-05:00", 2)
    assert clash.status_code == 409
    session = InfusionSession.objects.get(pk=mine["id"])
    assert (session.version, session.start) == (2, dt.datetime(2027, 1, 5, 15, tzinfo=dt.UTC))


def test_a_start_in_the_past_is_refused_and_nothing_is_booked(as_scheduler, patient_a, center, frozen_now):
    frozen_now.move_to(dt.datetime(2027, 1, 4, 14, 16, tzinfo=dt.UTC))  # 09:16 in New York

    late = book_one(as_scheduler, patient_a, center, start="2027-01-04T09:00:00-05:00")

    assert late.status_code == 400
    assert late.json()["start"] == [
        "This start is in the past; give a start from now on (at most 15 minutes ago)."
    ]
    assert not InfusionSession.objects.exists()


def test_a_walk_in_may_start_up_to_15_minutes_before_it_is_booked(
    as_scheduler, patient_a, center, frozen_now
):
    frozen_now.move_to(dt.datetime(2027, 1, 4, 14, 14, tzinfo=dt.UTC))  # 09:14 in New York

    walk_in = book_one(as_scheduler, patient_a, center, start="2027-01-04T09:00:00-05:00")

    assert walk_in.status_code == 201, walk_in.json()


def test_a_reschedule_into_the_past_is_refused_and_changes_nothing(
    as_scheduler, patient_a, center, frozen_now
):
    mine = book_one(as_scheduler, patient_a, center, start="2027-01-06T09:00:00-05:00").json()
    frozen_now.move_to(dt.datetime(2027, 1, 5, 15, 0, tzinfo=dt.UTC))

    back = as_scheduler.patch(
        f"{SESSIONS}{mine['id']}/", {"start": "2027-01-04T09:00:00-05:00"}, format="json"
    )

    assert back.status_code == 400
    assert "in the past" in back.json()["start"][0]
    session = InfusionSession.objects.get(pk=mine["id"])
    assert (session.version, session.start) == (1, dt.datetime(2027, 1, 6, 14, tzinfo=dt.UTC))


def test_an_empty_reschedule_is_a_400(as_scheduler, patient_a, center):
    mine = book_one(as_scheduler, patient_a, center).json()
    assert as_scheduler.patch(f"{SESSIONS}{mine['id']}/", {}, format="json").status_code == 400


def test_status_actions_follow_the_machine_and_the_roles(client_for, scheduler, nurse, patient_a, center):
    session = book_one(client_for(scheduler), patient_a, center).json()
    url = f"{SESSIONS}{session['id']}"

    assert client_for(patient_a.user).post(f"{url}/confirm/").json()["status"] == "confirmed"
    assert client_for(patient_a.user).post(f"{url}/check-in/").status_code == 403
    assert client_for(scheduler).post(f"{url}/complete/").status_code == 403
    assert client_for(nurse).post(f"{url}/check-in/").json()["status"] == "checked_in"
    assert client_for(nurse).post(f"{url}/start/").json()["status"] == "in_progress"
    refused = client_for(nurse).post(f"{url}/no-show/")
    assert refused.status_code == 409
    assert "allowed now: complete" in refused.json()["detail"]
    assert client_for(nurse).post(f"{url}/complete/").json()["status"] == "completed"


def test_a_patient_sees_and_cancels_only_their_own_sessions(
    client_for, scheduler, patient_a, patient_b, center
):
    mine = book_one(client_for(scheduler), patient_a, center).json()
    theirs = book_one(client_for(scheduler), patient_b, center, start="2027-01-05T09:00:00-05:00").json()
    client = client_for(patient_a.user)

    assert [s["id"] for s in client.get(SESSIONS).json()["results"]] == [mine["id"]]
    assert client.get(f"{SESSIONS}{theirs['id']}/").status_code == 404
    assert client.post(f"{SESSIONS}{theirs['id']}/cancel/").status_code == 404
    assert client.post(f"{SESSIONS}{mine['id']}/cancel/").json()["status"] == "cancelled"
    assert book_one(client, patient_a, center).status_code == 403
    assert (
        client.patch(f"{SESSIONS}{mine['id']}/", {"start": mine["start"]}, format="json").status_code == 403
    )


def test_the_list_filters_by_the_centers_local_date(as_scheduler, patient_a, patient_b, center):
    # 23:30 in New York on 4 January is already 5 January in UTC.
    center.opening_hours.update(closes=dt.time(23, 59))
    late = book_one(
        as_scheduler, patient_a, center, start="2027-01-04T22:00:00-05:00", chair_minutes=90
    ).json()
    book_one(as_scheduler, patient_b, center, start="2027-01-05T09:00:00-05:00")

    on_fourth = as_scheduler.get(SESSIONS, {"center": center.pk, "date": "2027-01-04"}).json()["results"]
    without_center = as_scheduler.get(SESSIONS, {"date": "2027-01-04"})

    assert [s["id"] for s in on_fourth] == [late["id"]]
    assert without_center.status_code == 400 and "date" in without_center.json()
    by_patient = as_scheduler.get(SESSIONS, {"patient": patient_b.pk}).json()["results"]
    assert [s["patient"] for s in by_patient] == [patient_b.pk]


def test_listing_sessions_takes_the_same_queries_for_2_or_20(as_scheduler, center):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_scheduler.get(SESSIONS, {"center": center.pk}).status_code == 200
        return len(ctx)

    count()
    for n in range(2):
        book_one(
            as_scheduler, PatientWeightFactory().patient, center, start=f"2027-01-{4 + n:02d}T09:00:00-05:00"
        )
    few = count()
    for n in range(18):
        day = dt.date(2027, 1, 11) + dt.timedelta(days=7 * (n // 2))
        book_one(
            as_scheduler,
            PatientWeightFactory().patient,
            center,
            start=f"{day}T{9 + 3 * (n % 2):02d}:00:00-05:00",
        )
    assert InfusionSession.objects.count() == 20
    assert count() == few


def test_availability_lists_free_windows_per_chair(client_for, scheduler, nurse, patient_a, center):
    book_one(client_for(scheduler), patient_a, center, start="2027-01-04T10:00:00-05:00")
    response = client_for(nurse).get(
        "/api/v1/availability/", {"center": center.pk, "date": "2027-01-04", "minutes": 120}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["time_zone"] == "America/New_York"
    windows = {c["name"]: c["windows"] for c in body["chairs"]}
    busy = [w for w in windows.values() if len(w) == 2]
    assert busy == [
        [
            {"start": "2027-01-04T08:00:00-05:00", "end": "2027-01-04T10:00:00-05:00"},
            {"start": "2027-01-04T12:00:00-05:00", "end": "2027-01-04T18:00:00-05:00"},
        ]
    ]


def test_availability_for_a_session_being_moved_frees_its_own_time_and_keeps_its_patients_others(
    as_scheduler, patient_a, center
):
    moving = book_one(as_scheduler, patient_a, center, start="2027-01-04T10:00:00-05:00").json()
    book_one(as_scheduler, patient_a, center, start="2027-01-04T14:00:00-05:00")
    query = {"center": center.pk, "date": "2027-01-04", "minutes": 120}

    anyone = as_scheduler.get("/api/v1/availability/", query).json()
    for_the_move = as_scheduler.get("/api/v1/availability/", {**query, "session": moving["id"]}).json()

    morning_and_evening = [
        {"start": "2027-01-04T08:00:00-05:00", "end": "2027-01-04T14:00:00-05:00"},
        {"start": "2027-01-04T16:00:00-05:00", "end": "2027-01-04T18:00:00-05:00"},
    ]
    assert [c["windows"] for c in for_the_move["chairs"]] == [morning_and_evening] * 2
    assert [c["windows"] for c in anyone["chairs"]] != [morning_and_evening] * 2
    assert as_scheduler.get("/api/v1/availability/", {**query, "session": 999999}).status_code == 400


def test_availability_respects_nurse_capacity(client_for, scheduler, patient_a, center):
    center.default_nurses_on_duty, center.patients_per_nurse = 1, 1
    center.save()
    book_one(client_for(scheduler), patient_a, center, start="2027-01-04T10:00:00-05:00")
    body = (
        client_for(scheduler)
        .get("/api/v1/availability/", {"center": center.pk, "date": "2027-01-04", "minutes": 60})
        .json()
    )
    free_chair = next(c for c in body["chairs"] if c["chair"] != InfusionSession.objects.get().chair_id)
    assert free_chair["windows"] == [
        {"start": "2027-01-04T08:00:00-05:00", "end": "2027-01-04T10:00:00-05:00"},
        {"start": "2027-01-04T12:00:00-05:00", "end": "2027-01-04T18:00:00-05:00"},
    ]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"center": 1, "date": "2027-01-04"},
        {"center": 999, "date": "2027-01-04", "minutes": 60},
        {"center": 1, "date": "soon", "minutes": 60},
        {"center": 1, "date": "2027-01-04", "minutes": 0},
    ],
)
def test_availability_needs_a_center_date_and_minutes(as_scheduler, center, query):
    query = {**query, "center": center.pk} if query.get("center") == 1 else query
    assert as_scheduler.get("/api/v1/availability/", query).status_code == 400


def test_patients_cannot_see_availability(client_for, patient_a, center):
    response = client_for(patient_a.user).get(
        "/api/v1/availability/", {"center": center.pk, "date": "2027-01-04", "minutes": 60}
    )
    assert response.status_code == 403


def test_a_session_is_never_replaced_or_deleted_whole(as_scheduler, patient_a, center):
    session = book_one(as_scheduler, patient_a, center).json()
    url = f"{SESSIONS}{session['id']}/"
    assert as_scheduler.put(url, {"start": session["start"]}, format="json").status_code == 405
    assert as_scheduler.delete(url).status_code == 405
    assert InfusionSession.objects.filter(pk=session["id"], version=1).exists()
