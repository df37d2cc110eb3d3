"""The day board and the week load: what staff see of a center's chairs, sessions and nurse load."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from infusions.models import ClosedDate, StaffingDay
from infusions.pages.board import (
    hours_between,
    overlap_hours,
    percent_along,
    span_percent,
    utilisation_percent,
)
from tests.factories import CenterFactory, ChairFactory, PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.date(2027, 1, 4)  # a Monday, EST
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# -- reading the page ---------------------------------------------------------------


class _Element(HTMLParser):
    """The text, attributes and nested test ids of the first element with a given data-testid."""

    def __init__(self, testid: str):
        super().__init__()
        self.testid, self.depth, self.found = testid, 0, False
        self.attrs: dict[str, str] = {}
        self.words: list[str] = []
        self.inner: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if self.depth:
            if "data-testid" in attributes:
                self.inner.append(attributes["data-testid"])
            self.depth += tag not in VOID_TAGS
        elif not self.found and attributes.get("data-testid") == self.testid:
            self.found, self.attrs, self.depth = True, attributes, int(tag not in VOID_TAGS)

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in VOID_TAGS:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def element(html: str, testid: str) -> _Element | None:
    parser = _Element(testid)
    parser.feed(html)
    return parser if parser.found else None


# -- the center and its day -----------------------------------------------------------


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


@pytest.fixture
def center(db):
    center = CenterFactory(name="Alpha Infusion Center")
    for n in (1, 2, 3):
        ChairFactory(center=center, name=f"C{n}")
    return center


def chair(center, name: str):
    return center.chairs.get(name=name)


def book(center, chair_name: str, start: dt.datetime, minutes: int, **fields):
    return SessionFactory(chair=chair(center, chair_name), start=start, chair_minutes=minutes, **fields)


def logged_in(user) -> Client:
    """A browser logged in now (a login from before a clock jump would have expired)."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_nurse(nurse) -> Client:
    return logged_in(nurse)


def board(client: Client, center, day: dt.date = DAY) -> str:
    response = client.get(f"/board/?center={center.pk}&date={day:%Y-%m-%d}")
    assert response.status_code == 200
    return response.content.decode()


def week(client: Client, center, day: dt.date = DAY) -> str:
    response = client.get(f"/load/?center={center.pk}&week={day:%Y-%m-%d}")
    assert response.status_code == 200
    return response.content.decode()


# -- the day board ----------------------------------------------------------------------


def test_the_board_draws_each_session_in_its_chair_with_local_times_and_the_zone(as_nurse, center):
    patient = PatientFactory(family_name="Okafor", given_name="Adaeze", mrn="MRN-4411")
    session = book(center, "C2", local(DAY, 9), 360, patient=patient, status="confirmed")

    html = board(as_nurse, center)

    assert "Times in America/New_York (EST)" in element(html, "zone-legend").text
    row = element(html, f"chair-{chair(center, 'C2').pk}")
    assert row.inner == [f"session-{session.pk}"]
    assert element(html, f"chair-{chair(center, 'C1').pk}").inner == []
    block = element(html, f"session-{session.pk}")
    assert block.attrs["href"] == f"/sessions/{session.pk}/"
    assert "status-confirmed" in block.attrs["class"]
    assert block.text == "09:00–15:00 Okafor, A. MRN MRN-4411 Confirmed"
    # 09:00 to 15:00 of an 08:00–18:00 day.
    assert "left: 10.000%; width: 60.000%" in block.attrs["style"]


def test_the_chairs_are_the_active_ones_in_order(as_nurse, center):
    ChairFactory(center=center, name="C0", is_active=False)

    html = board(as_nurse, center)

    assert element(html, "board").inner[:3] == [f"chair-{chair(center, n).pk}" for n in ("C1", "C2", "C3")]
    assert element(html, f"chair-{chair(center, 'C0').pk}") is None


def test_sessions_of_another_day_or_center_are_not_on_the_board(as_nurse, center):
    today = book(center, "C1", local(DAY, 9), 120)
    tomorrow = book(center, "C1", local(DAY + dt.timedelta(days=1), 9), 120)
    elsewhere = SessionFactory(chair=ChairFactory(name="C1"), start=local(DAY, 9), chair_minutes=120)

    html = board(as_nurse, center)

    assert element(html, f"session-{today.pk}") is not None
    assert element(html, f"session-{tomorrow.pk}") is None
    assert element(html, f"session-{elsewhere.pk}") is None


def test_the_pickers_choose_the_center_and_the_day(as_nurse, center):
    other = CenterFactory(name="Beta Infusion Center")
    theirs = SessionFactory(
        chair=ChairFactory(center=other, name="B1"), start=local(DAY, 11), chair_minutes=60
    )

    html = board(as_nurse, other)

    assert element(html, f"session-{theirs.pk}").text.startswith("11:00–12:00")
    assert f'<option value="{other.pk}" selected>Beta Infusion Center</option>' in html
    assert f'<option value="{center.pk}">Alpha Infusion Center</option>' in html
    assert 'type="date" name="date" value="2027-01-04"' in html
    assert f'href="/board/?center={other.pk}&amp;date=2027-01-03">Previous day</a>' in html
    assert f'href="/board/?center={other.pk}&amp;date=2027-01-05">Next day</a>' in html


def test_with_no_choice_it_shows_the_first_center_by_name_today_in_its_zone(nurse, center):
    CenterFactory(name="Zulu Infusion Center")
    session = book(center, "C1", local(DAY, 9), 120)

    # 03:00 UTC on the 5th is still the 4th in New York.
    with time_machine.travel(dt.datetime(2027, 1, 5, 3, 0, tzinfo=dt.UTC), tick=False):
        html = logged_in(nurse).get("/board/").content.decode()

    assert "Alpha Infusion Center · Monday 4 January 2027" in html
    assert element(html, f"session-{session.pk}") is not None


def test_the_now_line_is_drawn_only_on_today_while_open(nurse, center):
    with time_machine.travel(local(DAY, 10), tick=False):
        today = board(logged_in(nurse), center)
        tomorrow = board(logged_in(nurse), center, DAY + dt.timedelta(days=1))
    with time_machine.travel(local(DAY, 18, 30), tick=False):
        after_closing = board(logged_in(nurse), center)

    line = element(today, "now-line")
    assert line.text == "Now 10:00"
    assert line.attrs["style"] == "left: 20.000%"
    assert element(tomorrow, "now-line") is None
    assert element(after_closing, "now-line") is None


def test_the_load_strip_counts_running_infusions_against_nurse_capacity(as_nurse, center):
    center.patients_per_nurse = 2
    center.save()
    StaffingDay.objects.create(center=center, date=DAY, nurses_on_duty=1)  # capacity 1 × 2 = 2
    book(center, "C1", local(DAY, 9), 120)  # 09:00–11:00
    book(center, "C2", local(DAY, 9, 30), 60)  # 09:30–10:30
    book(center, "C3", local(DAY, 10), 120)  # 10:00–12:00
    book(center, "C2", local(DAY, 11), 60, status="cancelled")  # frees its chair: not counted

    html = board(as_nurse, center)

    running = {
        at: element(html, f"load-slot-{at}") for at in ("0845", "0900", "0930", "1000", "1030", "1100")
    }
    assert {at: int(slot.text) for at, slot in running.items()} == {
        "0845": 0,
        "0900": 1,
        "0930": 2,
        "1000": 3,
        "1030": 2,
        "1100": 1,
    }
    assert [at for at, slot in running.items() if "slot-full" in slot.attrs["class"]] == [
        "0930",
        "1000",
        "1030",
    ]
    assert "slot-over" in running["1000"].attrs["class"]
    assert running["1000"].attrs["title"] == "10:00–10:15: 3 running, capacity 2"
    summary = element(html, "load-summary").text
    assert "1 nurse on duty × 2 patients each = 2 infusions running at once" in summary
    assert element(html, "capacity-warning").text == "At or over capacity: 09:30–11:00."


def test_without_a_staffing_entry_capacity_uses_the_centers_default_nurses(as_nurse, center):
    html = board(as_nurse, center)

    assert "2 nurses on duty × 4 patients each = 8 infusions" in element(html, "load-summary").text
    assert element(html, "capacity-warning") is None


def test_cancelled_sessions_are_listed_not_drawn_and_rebooking_is_flagged(as_nurse, center):
    cancelled = book(center, "C1", local(DAY, 9), 120, status="cancelled")
    flagged = book(center, "C2", local(DAY, 9), 120, needs_rebooking=True)

    html = board(as_nurse, center)

    assert f"session-{cancelled.pk}" not in element(html, "board").inner
    assert element(html, f"session-{cancelled.pk}").attrs["href"] == f"/sessions/{cancelled.pk}/"
    assert "listed under the board, not drawn" in element(html, "board-legend").text
    assert "⚑ Rebook" in element(html, f"session-{flagged.pk}").text


def test_a_weekday_without_hours_says_the_center_is_closed(as_nurse, center):
    html = board(as_nurse, center, dt.date(2027, 1, 9))

    assert (
        element(html, "closed-notice").text
        == "Alpha Infusion Center is closed on Saturdays (no opening hours that weekday)."
    )
    assert element(html, "board") is None


def test_a_closed_date_gives_its_reason_and_lists_sessions_still_booked(as_nurse, center):
    ClosedDate.objects.create(center=center, date=DAY, reason="Staff training")
    stranded = book(center, "C1", local(DAY, 9), 120)

    html = board(as_nurse, center)

    assert element(html, "closed-notice").text == (
        "Alpha Infusion Center is closed on Monday 4 January 2027: Staff training."
    )
    assert "Still booked on this closed day" in html
    assert element(html, f"session-{stranded.pk}").text == "09:00–11:00"


def test_an_inactive_chair_holding_a_session_still_shows_it(as_nurse, center):
    retired = ChairFactory(center=center, name="C9", is_active=False)
    session = SessionFactory(chair=retired, start=local(DAY, 9), chair_minutes=60)

    html = board(as_nurse, center)

    row = element(html, f"chair-{retired.pk}")
    assert row.inner == [f"session-{session.pk}"]
    assert "(inactive)" in row.text


# -- who may look, and what is refused -----------------------------------------------------


@pytest.mark.parametrize("address", ["/board/", "/load/"])
@pytest.mark.parametrize("persona", ["patient_a", "pharmacist"])
def test_patients_and_pharmacists_are_refused(request, center, address, persona):
    user = request.getfixturevalue(persona)
    client = logged_in(user if persona == "pharmacist" else user.user)

    response = client.get(address)

    assert response.status_code == 403
    assert "Not for your role" in response.content.decode()


@pytest.mark.parametrize("address", ["/board/", "/load/"])
@pytest.mark.parametrize("persona", ["scheduler", "nurse", "admin_user"])
def test_schedulers_nurses_and_admins_may_look(request, center, address, persona):
    client = logged_in(request.getfixturevalue(persona))

    assert client.get(address).status_code == 200


@pytest.mark.parametrize(
    "query",
    ["/board/?date=2027-13-01", "/board/?date=04/01/2027", "/board/?date=0001-01-01", "/load/?week=next"],
)
def test_a_malformed_date_is_a_400(as_nurse, center, query):
    assert as_nurse.get(query).status_code == 400


@pytest.mark.parametrize("address", ["/board/?center=999999", "/load/?center=999999"])
def test_an_unknown_center_is_a_404(as_nurse, center, address):
    assert as_nurse.get(address).status_code == 404


def test_with_no_center_yet_the_board_says_so(as_nurse):
    response = as_nurse.get("/board/")

    assert response.status_code == 200
    assert "There is no infusion center yet" in response.content.decode()


# -- the week load ------------------------------------------------------------------------


def test_week_utilisation_is_booked_over_available_chair_hours(as_nurse, center):
    chair(center, "C3").delete()  # two active chairs
    ClosedDate.objects.create(center=center, date=DAY + dt.timedelta(days=4), reason="Holiday")
    wednesday = DAY + dt.timedelta(days=2)
    book(center, "C1", local(DAY, 9), 360)  # 6 h
    book(center, "C2", local(DAY, 12), 240)  # 4 h
    book(center, "C1", local(DAY + dt.timedelta(days=1), 8), 600)  # 10 h
    book(center, "C1", local(wednesday, 9), 360, status="cancelled")  # not live
    book(center, "C1", local(DAY + dt.timedelta(days=7), 9), 360)  # next week
    SessionFactory(chair=ChairFactory(name="X1"), start=local(DAY, 9), chair_minutes=360)  # another center

    html = week(as_nurse, center, wednesday)

    # 20 booked of 2 chairs × 10 h × 4 open days (Friday closed, weekend shut) = 80.
    assert element(html, "week-utilisation").text == "25.0% of chair time booked"
    assert "20.0 of 80.0 chair-hours" in html
    monday = element(html, "load-day-2027-01-04").text
    assert monday.startswith("Mon 4 Jan 0.0 0% 1.0 50% 1.0 50% 1.0 50% 2.0 100%")
    assert monday.endswith("10.0 / 20.0 50.0%")
    assert element(html, "load-day-2027-01-08").text == "Fri 8 Jan Closed: Holiday —"
    assert element(html, "load-day-2027-01-09").text == "Sat 9 Jan Closed —"
    assert "Times in America/New_York (EST)" in html


def test_the_week_runs_monday_to_sunday_with_links_either_side(as_nurse, center):
    html = week(as_nurse, center, dt.date(2027, 1, 10))  # a Sunday

    assert "4 Jan – 10 Jan 2027" in html
    assert f'href="/load/?center={center.pk}&amp;week=2026-12-28">Previous week</a>' in html
    assert f'href="/load/?center={center.pk}&amp;week=2027-01-11">Next week</a>' in html


# -- a fixed number of queries ------------------------------------------------------------------


def fill(center, sessions: int) -> None:
    """`sessions` sessions on DAY, two a chair (08:00–11:00 and 12:00–15:00)."""
    chairs = [ChairFactory(center=center, name=f"Chair {n:02d}") for n in range((sessions + 1) // 2)]
    for n in range(sessions):
        SessionFactory(chair=chairs[n // 2], start=local(DAY, 8 if n % 2 == 0 else 12), chair_minutes=180)


@pytest.mark.parametrize("sessions", [2, 25])
@pytest.mark.parametrize("address", ["/board/?center={}&date=2027-01-04", "/load/?center={}&week=2027-01-04"])
def test_each_page_takes_the_same_queries_however_full(
    as_nurse, center, sessions, address, django_assert_max_num_queries
):
    fill(center, sessions)
    StaffingDay.objects.create(center=center, date=DAY, nurses_on_duty=3)

    with django_assert_max_num_queries(11):
        response = as_nurse.get(address.format(center.pk))

    assert response.status_code == 200


# -- the arithmetic -------------------------------------------------------------------------------


def test_positions_are_percent_of_the_open_day_held_inside_it():
    opens, closes = local(DAY, 8), local(DAY, 18)

    assert span_percent(local(DAY, 9), local(DAY, 15), opens, closes) == (10.0, 60.0)
    assert span_percent(local(DAY, 7), local(DAY, 9), opens, closes) == (0.0, 10.0)
    assert span_percent(local(DAY, 17), local(DAY, 19), opens, closes) == (90.0, 10.0)
    assert percent_along(local(DAY, 8, 20), opens, closes) == pytest.approx(3.333, abs=0.001)


def test_hours_count_real_time_across_a_clock_change():
    spring_forward = dt.date(2027, 3, 14)

    assert hours_between(local(spring_forward, 0), local(spring_forward, 12)) == 11
    assert overlap_hours(local(DAY, 9), local(DAY, 15), local(DAY, 14), local(DAY, 18)) == 1
    assert overlap_hours(local(DAY, 9), local(DAY, 10), local(DAY, 14), local(DAY, 18)) == 0


def test_utilisation_is_used_over_available_in_percent():
    assert utilisation_percent(20, 80) == 25.0
    assert utilisation_percent(1, 3) == 33.3
    assert utilisation_percent(0, 0) is None
