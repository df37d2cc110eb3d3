"""POST /api/v1/plans/{id}/book/ with chosen times for the course days a 409 refused."""

from __future__ import annotations

import datetime as dt

import pytest
from drf_spectacular.generators import SchemaGenerator

from infusions.models import ClosedDate, InfusionPlan, InfusionSession
from infusions.scheduling.booking import session_book
from tests.factories import CenterFactory, ChairFactory, PlanFactory


@pytest.fixture
def center(db):
    center = CenterFactory()
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    return center


@pytest.fixture
def as_scheduler(client_for, scheduler):
    return client_for(scheduler)


@pytest.fixture
def plan(patient_a, center):
    """Two 2-day courses from Monday 1 March 2027; the center is closed the week of course 2."""
    ClosedDate.objects.bulk_create(
        [ClosedDate(center=center, date=dt.date(2027, 3, 29) + dt.timedelta(days=n)) for n in range(7)]
    )
    return PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 3, 1), course_count=2)


def book(client, plan, body=None):
    return client.post(f"/api/v1/plans/{plan.pk}/book/", body, format="json")


def refused_alternatives(client, plan) -> list[dict]:
    response = book(client, plan)
    assert response.status_code == 409
    [conflict] = response.json()["conflicts"]
    assert (conflict["course"], conflict["day"]) == (2, 1)
    return conflict["alternatives"]


def local_starts(plan) -> list[tuple[int, int, str, str]]:
    return [
        (s.course, s.day, s.start.astimezone(s.center.zone).isoformat(), s.chair.name)
        for s in plan.sessions.select_related("center", "chair").order_by("start")
    ]


def test_a_chosen_alternative_is_booked_and_the_rest_placed_as_usual(as_scheduler, plan, center):
    alternative = refused_alternatives(as_scheduler, plan)[-1]
    choice = {"course": 2, "day": 1, "start": alternative["start"], "chair": alternative["chair"]}

    response = book(as_scheduler, plan, {"choices": [choice]})

    assert response.status_code == 201, response.json()
    by_day = {(s["course"], s["day"]): s for s in response.json()}
    assert (by_day[2, 1]["start"], by_day[2, 1]["chair"]) == (alternative["start"], alternative["chair"])
    assert by_day[1, 1]["start"] == "2027-03-01T09:00:00-05:00"
    assert by_day[1, 2]["start"] == "2027-03-02T09:00:00-05:00"
    # Day 2 follows the chosen day on the next open day.
    chosen_day = dt.datetime.fromisoformat(alternative["start"]).date()
    assert dt.datetime.fromisoformat(by_day[2, 2]["start"]).date() == chosen_day + dt.timedelta(days=1)
    assert InfusionSession.objects.filter(plan=plan).count() == 4
    plan.refresh_from_db()
    assert plan.status == "active"


def test_a_time_of_the_schedulers_own_is_honoured_too(as_scheduler, plan, center):
    chair = center.chairs.get(name="C2")
    choice = {"course": 2, "day": 1, "start": "2027-04-06T11:30:00-04:00", "chair": chair.pk}

    response = book(as_scheduler, plan, {"choices": [choice]})

    assert response.status_code == 201, response.json()
    assert (2, 1, "2027-04-06T11:30:00-04:00", "C2") in local_starts(plan)
    assert (2, 2) in {(course, day) for course, day, *_ in local_starts(plan)}


def test_a_choice_taken_meanwhile_is_refused_with_fresh_alternatives_and_books_nothing(
    as_scheduler, plan, patient_b, center
):
    alternative = refused_alternatives(as_scheduler, plan)[0]
    taken = center.chairs.get(pk=alternative["chair"])
    session_book(
        patient=patient_b,
        center=center,
        start=dt.datetime.fromisoformat(alternative["start"]),
        chair=taken,
        chair_minutes=120,
    )
    choice = {"course": 2, "day": 1, "start": alternative["start"], "chair": alternative["chair"]}

    response = book(as_scheduler, plan, {"choices": [choice]})

    assert response.status_code == 409
    [conflict] = response.json()["conflicts"]
    assert (conflict["course"], conflict["day"]) == (2, 1)
    assert "chair_busy" in conflict["reasons"]
    assert conflict["alternatives"], "fresh alternatives are offered"
    assert {"start": alternative["start"], "chair": alternative["chair"]} not in conflict["alternatives"]
    assert not InfusionSession.objects.filter(plan=plan).exists()
    assert InfusionSession.objects.count() == 1  # patient_b's
    plan.refresh_from_db()
    assert plan.status == "draft"


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"course": 2, "day": 1, "chair": "C1"}, "required"),
        ({"course": 2, "day": 1, "start": "2027-04-05T09:00:00", "chair": "C1"}, "UTC offset"),
        ({"course": 2, "day": 1, "start": "2027-04-05T09:00:00-05:00", "chair": "C1"}, "not a wall-clock"),
        ({"course": 2, "day": 1, "start": "next week", "chair": "C1"}, "wrong format"),
        ({"course": 2, "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": 999999}, "Invalid pk"),
        ({"course": 2, "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": "other"}, "active chair"),
        ({"course": 3, "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": "C1"}, "not left to book"),
        ({"course": 2, "day": 3, "start": "2027-04-05T09:00:00-04:00", "chair": "C1"}, "last 2 day(s)"),
        ({"course": 2, "day": 1, "start": "2028-01-03T09:00:00-05:00", "chair": "C1"}, "choose a day"),
        ({"course": 2, "day": 1, "start": "2027-03-01T09:00:00-05:00", "chair": "C1"}, "choose a day"),
        ({"course": "two", "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": "C1"}, "valid integer"),
    ],
)
def test_a_malformed_choice_is_a_400_with_a_message_and_books_nothing(
    as_scheduler, plan, center, choice, message
):
    chairs = {"C1": center.chairs.get(name="C1").pk, "other": ChairFactory().pk}
    if "chair" in choice:
        choice = {**choice, "chair": chairs.get(choice["chair"], choice["chair"])}

    response = book(as_scheduler, plan, {"choices": [choice]})

    assert response.status_code == 400
    assert message in str(response.json()["choices"])
    assert not InfusionSession.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"choices": "course 2 at nine"},
        {"choices": None},
        [{"course": 2, "day": 1}],
    ],
)
def test_a_body_that_is_not_a_list_of_choices_is_a_400(as_scheduler, plan, body):
    response = book(as_scheduler, plan, body)
    assert response.status_code == 400
    assert not InfusionSession.objects.exists()


def test_the_same_day_chosen_twice_or_out_of_order_is_a_400(as_scheduler, plan, center):
    c1 = center.chairs.get(name="C1").pk
    twice = [{"course": 2, "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": c1}] * 2
    backwards = [
        {"course": 2, "day": 1, "start": "2027-04-06T09:00:00-04:00", "chair": c1},
        {"course": 2, "day": 2, "start": "2027-04-05T09:00:00-04:00", "chair": c1},
    ]

    for choices, message in ((twice, "chosen twice"), (backwards, "later date")):
        response = book(as_scheduler, plan, {"choices": choices})
        assert response.status_code == 400
        assert message in response.json()["choices"][0]
    assert not InfusionSession.objects.exists()


@pytest.mark.parametrize("body", [None, {}, {"choices": []}])
def test_no_choices_books_as_before(as_scheduler, patient_a, center, body):
    plan = PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 3, 1), course_count=2)

    response = book(as_scheduler, plan, body)

    assert response.status_code == 201, response.json()
    assert [s["start"] for s in response.json()] == [
        "2027-03-01T09:00:00-05:00",
        "2027-03-02T09:00:00-05:00",
        "2027-03-29T09:00:00-04:00",
        "2027-03-30T09:00:00-04:00",
    ]


def test_a_nurse_cannot_book_with_choices(client_for, nurse, plan, center):
    choice = {"course": 2, "day": 1, "start": "2027-04-05T09:00:00-04:00", "chair": center.chairs.first().pk}
    response = book(client_for(nurse), plan, {"choices": [choice]})
    assert response.status_code == 403
    assert not InfusionSession.objects.exists()
    assert InfusionPlan.objects.get(pk=plan.pk).status == "draft"


def test_the_schema_documents_the_choices_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/plans/{id}/book/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    choices = schema["components"]["schemas"][body]["properties"]["choices"]
    choice = choices["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][choice]["properties"]) == {"course", "day", "start", "chair"}
