"""The session page (/sessions/<id>/): the nurse's chairside view, and reschedule /
cancel for schedulers. Changes go through the API; the page only reads."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from infusions.api.records import (
    LotUseInput,
    PremedicationInput,
    RateChangeInput,
    ReactionInput,
    VitalSignsInput,
)
from infusions.chairside import reaction_record, session_complete, vitals_record
from infusions.models import InfusionSession, LotUse, Premedication, Product, RateChange, Reaction, VitalSigns
from infusions.scheduling.booking import session_book, session_transition
from infusions.scheduling.dates import zone_offsets
from tests.chairside_support import START, at, follow_the_ladder, log_rate, make_center, running_session
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clock, patient_a):
    """Octagam 10% for DM at 70 kg, booked 09:00 EST, checked in 09:05, started 09:15."""
    return running_session(clock, patient_a)


@pytest.fixture
def booked(clock, patient_a):
    """The same plan booked at 09:00 EST on 4 January 2027 and not yet checked in."""
    center = make_center()
    plan = PlanFactory(patient=patient_a, center=center)
    clock.move_to(START - dt.timedelta(days=7))
    return session_book(patient=patient_a, center=center, start=START, plan=plan)


def page_of(user, session: InfusionSession):
    client = Client()
    client.force_login(user)
    return client.get(f"/sessions/{session.pk}/")


def html_of(user, session: InfusionSession) -> str:
    response = page_of(user, session)
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str) -> str:
    """The visible text, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def section(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return match.group(2)


# -- who may open it -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pharmacist", "patient_a"])
def test_pharmacists_and_patients_are_refused(request, session, persona):
    user = request.getfixturevalue(persona)
    user = user.user if persona == "patient_a" else user

    response = page_of(user, session)

    assert response.status_code == 403
    assert "Not for your role" in response.content.decode()


def test_a_visitor_is_sent_to_log_in_and_an_unknown_session_is_404(nurse, session):
    assert Client().get(f"/sessions/{session.pk}/").status_code == 302
    client = Client()
    client.force_login(nurse)
    assert client.get("/sessions/999999/").status_code == 404


# -- the header and the ladder ---------------------------------------------------------------


def test_the_header_names_the_patient_dose_and_maximum_rate_in_local_time(nurse, session, patient_a):
    html = html_of(nurse, session)
    text = text_of(section(html, "session-header"))

    assert f'href="/patients/{patient_a.pk}/"' in html
    assert f"{patient_a.full_name} · MRN {patient_a.mrn}" in text
    assert f"Chair {session.chair.name}" in text
    assert "Mon 04 Jan 2027, 09:00 EST – 15:30 EST America/New_York" in text
    assert "In progress" in text
    assert "70 g · 700 mL of Octagam 10% for Dermatomyositis" in text
    assert "70.0 kg" in text
    assert "168.0 mL/h (4 mg/kg/min)" in text
    assert "Octagam 10% maximum for Dermatomyositis" in text
    assert "Times are in America/New_York (EST)" in text


def test_the_ladder_runs_from_the_actual_start_in_local_clock_times(nurse, session):
    rows = re.findall(r'<tr data-testid="ladder-step">(.*?)</tr>', html_of(nurse, session), re.S)

    assert [text_of(row).strip() for row in rows] == [
        "1 42.0 mL/h 1 09:15 EST – 09:45 EST 30 min",
        "2 84.0 mL/h 2 09:45 EST – 10:15 EST 30 min",
        "3 168.0 mL/h 4 10:15 EST – 14:02 EST 227.5 min",
    ]


def test_before_the_start_the_ladder_runs_from_the_planned_start_after_check_in_time(nurse, booked):
    html = html_of(nurse, booked)

    assert "planned start of the infusion at 09:30 EST" in text_of(html)
    assert "09:30 EST – 10:00 EST" in text_of(section(html, "ladder"))


def test_a_tolerated_cap_and_a_rebooking_flag_are_shown(nurse, booked, patient_a):
    patient_a.tolerated_max_rate_mg_kg_min = Decimal("2.500")
    patient_a.save()
    InfusionSession.objects.filter(pk=booked.pk).update(
        needs_rebooking=True,
        rebooking_reason="At the patient's new rate cap the session needs 420 chair minutes.",
    )

    html = html_of(nurse, booked)

    assert "2.5 mg/kg/min (105.0 mL/h)" in text_of(section(html, "tolerated-cap"))
    assert "105.0 mL/h (2.5 mg/kg/min)" in text_of(section(html, "max-rate"))
    assert "Needs rebooking." in text_of(section(html, "needs-rebooking"))
    assert "420 chair minutes" in text_of(html)


# -- buttons and forms by status and role ----------------------------------------------------


def buttons(html: str) -> list[str]:
    """The page's own buttons (not the navigation's "Log out")."""
    content = html.split('<main id="content">', 1)[1]
    return [text_of(b).strip() for b in re.findall(r"<button[^>]*>(.*?)</button>", content, re.S)]


def test_a_scheduler_confirms_reschedules_and_cancels_but_writes_no_chairside_entry(scheduler, booked):
    html = html_of(scheduler, booked)

    assert {"Confirm", "Check in", "No-show", "Reschedule", "Cancel session"} <= set(buttons(html))
    assert "Start infusion" not in buttons(html)
    assert 'id="rate-form"' not in html and "Log rate" not in html
    assert '<label for="reschedule-date">New date</label>' in html
    assert '<label for="reschedule-time">New time (America/New_York)</label>' in html
    assert 'value="2027-01-04"' in html and 'value="09:00"' in html
    assert '<label for="reschedule-chair">Chair</label>' in html


def test_a_nurse_checks_in_but_does_not_reschedule_or_cancel(nurse, booked):
    html = html_of(nurse, booked)

    assert set(buttons(html)) == {"Check in", "Confirm", "No-show"}
    assert "Chairside entries open at check-in" in html
    assert 'id="reschedule-form"' not in html


def test_after_check_in_the_nurse_records_vitals_and_premedication_then_starts(clock, nurse, booked):
    clock.move_to(START + dt.timedelta(minutes=5))
    session_transition(session=booked, action="check_in")

    html = html_of(nurse, booked)

    assert set(buttons(html)) == {"Start infusion", "Log vitals", "Log premedication"}
    assert 'id="rate-form"' not in html
    assert '<label for="premedication-at">Given at (America/New_York; blank: now)</label>' in html
    assert 'data-entry-date="2027-01-04"' in html  # a typed time is read on the day of check-in


def test_while_running_the_nurse_has_every_chairside_form_with_labels(nurse, session):
    html = html_of(nurse, session)

    assert set(buttons(html)) == {
        "Complete",
        "Log rate",
        "Log vitals",
        "Record reaction",
        "Log premedication",
        "Log lot",
    }
    for label in (
        '<label for="rate">Rate (mL/h)</label>',
        '<label for="vitals-systolic">Systolic (mmHg)</label>',
        '<label for="vitals-diastolic">Diastolic (mmHg)</label>',
        '<label for="vitals-pulse">Pulse (/min)</label>',
        '<label for="vitals-temperature">Temperature (°C)</label>',
        '<label for="vitals-respiratory">Respiratory rate (/min)</label>',
        '<label for="vitals-spo2">SpO2 (%)</label>',
        '<label for="reaction-severity">Severity</label>',
        '<label for="reaction-description">Description</label>',
        '<label for="reaction-action">Action taken</label>',
        '<label for="premedication-drug">Drug</label>',
        '<label for="premedication-dose">Dose</label>',
        '<label for="premedication-route">Route</label>',
        '<label for="lot-number">Lot number</label>',
        '<label for="lot-count">Vials</label>',
    ):
        assert label in html
    assert 'id="rate-error" data-error-for="rate_ml_per_hour"' in html
    # Every labelled input has its label.
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', section(html, "chairside-forms")))
    assert ids and all(f'for="{i}"' in html for i in ids)


@pytest.mark.parametrize(
    ("form", "serializer"),
    [
        ("rate-form", RateChangeInput),
        ("vitals-form", VitalSignsInput),
        ("reaction-form", ReactionInput),
        ("premedication-form", PremedicationInput),
        ("lot-form", LotUseInput),
    ],
)
def test_every_form_field_is_one_the_api_takes_so_refusals_land_beside_it(nurse, session, form, serializer):
    names = set(re.findall(r'name="([^"]+)"', section(html_of(nurse, session), form)))

    assert names and names <= set(serializer().fields)


def test_the_rate_refusal_names_the_field_the_rate_input_carries(client_for, nurse, clock, session):
    follow_the_ladder(clock, session)

    response = client_for(nurse).post(
        f"/api/v1/sessions/{session.pk}/rate-changes/", {"rate_ml_per_hour": "170.0"}, format="json"
    )

    assert response.status_code == 400
    [field] = response.json()
    assert f'name="{field}"' in section(html_of(nurse, session), "rate-form")


def test_a_scheduler_sees_no_status_button_on_a_running_session(scheduler, session):
    html = html_of(scheduler, session)

    assert buttons(html) == []
    assert 'id="reschedule-form"' not in html


def test_a_completed_session_shows_the_grams_infused_and_the_warning(clock, nurse, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(120))
    session_complete(session=session)

    html = html_of(nurse, session)

    header = text_of(section(html, "session-header"))
    assert "Completed" in header and "g infused by the rate log" in header
    assert "from the planned 70 g (more than 5%)" in header
    assert buttons(html) == []


# -- the timeline and the chart --------------------------------------------------------------


def test_the_timeline_lists_every_record_in_time_order_with_local_times(clock, nurse, session):
    follow_the_ladder(clock, session, until=30)
    clock.move_to(at(20))
    vitals_record(session=session, systolic=118, diastolic=76, heart_rate=72, at=at(20))
    clock.move_to(at(40))
    reaction_record(session=session, severity="mild", action="slowed", symptoms=["headache"], by=nurse)

    rows = re.findall(
        r'<tr class="entry-[^"]*" data-testid="timeline-entry".*?</tr>', html_of(nurse, session), re.S
    )
    texts = [text_of(row).strip() for row in rows]

    assert texts[0].startswith("09:15 EST Rate 42.0 mL/h (1 mg/kg/min)")
    assert texts[1] == "09:35 EST Vitals BP 118/76 mmHg pulse 72/min —"
    assert texts[2].startswith("09:45 EST Rate 84.0 mL/h (2 mg/kg/min)")
    assert texts[3] == "09:55 EST Reaction Mild: headache action: slowed nurse"


def test_a_corrected_entry_is_struck_through_and_the_correction_says_why(clock, nurse, session):
    first = log_rate(clock, session, 0, "42.0")
    log_rate(clock, session, 1, "40.0", amends=first.pk, reason="Typed the wrong rate")

    html = html_of(nurse, session)

    assert (
        f'class="entry-rate superseded" data-testid="timeline-entry" data-kind="rate" id="rate-{first.pk}"'
        in html
    )
    assert f"Corrects entry {first.pk}: Typed the wrong rate" in html


def test_the_chart_draws_the_logged_rate_against_the_ladder_and_the_maximum(clock, nurse, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(90))

    chart = section(html_of(nurse, session), "chart-card")

    assert '<svg id="rate-chart"' in chart and "<title" in chart and "<desc" in chart
    assert 'id="chart-max"' in chart and "Maximum 168.0 mL/h" in chart
    assert 'id="chart-planned"' in chart and 'id="chart-actual"' in chart
    assert "168.0 mL/h from 10:15 EST to now" in text_of(chart)
    assert ">10:00<" in chart  # the time axis in local clock time
    assert "America/New_York (EST)" in chart


# -- vitals due ------------------------------------------------------------------------------


def test_the_vitals_prompt_follows_the_record(clock, nurse, session):
    assert "Next vitals due at 09:30 EST" in text_of(section(html_of(nurse, session), "vitals-due"))

    clock.move_to(at(16))
    assert "Vitals due now" in text_of(section(html_of(nurse, session), "vitals-due"))

    log_rate(clock, session, 0, "42.0")
    clock.move_to(at(16))
    vitals_record(session=session, systolic=120, diastolic=80, at=at(12))
    prompt = text_of(section(html_of(nurse, session), "vitals-due"))
    assert "Next vitals due at 09:45 EST" in prompt and "before the step up to 84.0 mL/h" in prompt


# -- fixed queries ---------------------------------------------------------------------------


def add_records(session: InfusionSession, count: int, user) -> None:
    """`count` records of every kind, straight into the tables (the page only reads them)."""
    product = Product.objects.get(code="octagam-10")
    common = {"session": session, "recorded_by": user}
    for n in range(count):
        when = session.started_at + dt.timedelta(minutes=n)
        kind = n % 5
        if kind == 0:
            RateChange.objects.create(
                **common, at=when, rate_ml_per_hour=42, rate_mg_kg_min=1, dosing_weight_kg=70
            )
        elif kind == 1:
            VitalSigns.objects.create(**common, at=when, systolic=120, diastolic=80)
        elif kind == 2:
            Reaction.objects.create(
                **common, at=when, severity="mild", action="slowed", symptoms=["headache"]
            )
        elif kind == 3:
            Premedication.objects.create(**common, at=when, drug="Acetaminophen", dose="650 mg", route="oral")
        else:
            LotUse.objects.create(
                **common,
                at=when,
                product=product,
                lot_number=f"B{n}",
                expiry=dt.date(2027, 6, 30),
                vial_grams=10,
                count=7,
            )


@pytest.mark.parametrize("persona", ["nurse", "scheduler"])
def test_the_page_reads_a_fixed_number_of_queries_whatever_the_record(
    request, clock, session, django_assert_max_num_queries, persona
):
    user = request.getfixturevalue(persona)
    client = Client()
    client.force_login(user)
    clock.move_to(at(60))
    add_records(session, 2, user)
    with django_assert_max_num_queries(12):
        assert client.get(f"/sessions/{session.pk}/").status_code == 200

    add_records(session, 40, user)
    first = RateChange.objects.filter(session=session).first()
    RateChange.objects.create(
        session=session, at=first.at, amends=first, reason="Corrected", rate_ml_per_hour=40,
        rate_mg_kg_min=Decimal("0.9524"), dosing_weight_kg=70, recorded_by=user,
    )  # fmt: skip
    with django_assert_max_num_queries(12):
        response = client.get(f"/sessions/{session.pk}/")
    assert response.content.decode().count('data-testid="timeline-entry"') == 43


# -- the zone's offsets for the page's times ---------------------------------------------------


def test_the_offsets_name_each_daylight_saving_change_in_local_wall_clock_time():
    offsets = zone_offsets(ZoneInfo("America/New_York"), dt.date(2027, 1, 1), 365)

    assert offsets == [
        {"from": "2027-01-01T00:00", "offset": "-05:00"},
        {"from": "2027-03-14T03:00", "offset": "-04:00"},
        {"from": "2027-11-07T01:00", "offset": "-05:00"},
    ]


def test_a_zone_without_daylight_saving_has_one_offset():
    assert zone_offsets(ZoneInfo("Asia/Kolkata"), dt.date(2027, 1, 1), 400) == [
        {"from": "2027-01-01T00:00", "offset": "+05:30"}
    ]
