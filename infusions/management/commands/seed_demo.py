"""`manage.py seed_demo`: a demo center with synthetic patients, plans and sessions.

Idempotent: a second run finds what the first made and adds nothing. Sessions
are laid out around the day of the first run (the last two weeks and the next
four) so that the day board is never empty.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from infusions import chairside, dosing
from infusions.calculations import plan_dose
from infusions.catalogue_data import catalogue_install
from infusions.models import (
    Center,
    Chair,
    Indication,
    InfusionPlan,
    InfusionSession,
    Interval,
    LotUse,
    OpeningHours,
    PlanStatus,
    Product,
    Protocol,
    ProtocolStep,
    RateChange,
    SessionStatus,
    VitalSigns,
)
from infusions.reminders.planning import reminders_plan
from patients.models import IgAStatus, Patient, PatientWeight

CENTER_NAME = "Demo Infusion Center"
CHAIRS = 8
PATIENTS = 20
DEMO_PASSWORD = "demo"
GIVEN_NAMES = [
    "Alex",
    "Blair",
    "Casey",
    "Dana",
    "Eden",
    "Finley",
    "Gray",
    "Harper",
    "Indy",
    "Jules",
    "Kai",
    "Lane",
    "Morgan",
    "Noa",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Toby",
]
PREFERRED_TIMES = [
    dt.time(8, 0),
    dt.time(8, 30),
    dt.time(9, 0),
    dt.time(9, 30),
    dt.time(10, 0),
    dt.time(10, 30),
]
ACCOUNTS = [("scheduler", "scheduler", False), ("nurse", "nurse", False), ("pharmacist", "pharmacist", True)]


class Command(BaseCommand):
    help = "Create the demo center, synthetic patients, plans and sessions (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--accounts",
            action="store_true",
            help="Also create the demo logins (always done when DEBUG is on).",
        )

    @transaction.atomic
    def handle(self, *args, accounts: bool = False, **options) -> None:
        catalogue_install(Indication, Product, Protocol, ProtocolStep)
        center = self.center()
        patients = [self.patient(number) for number in range(1, PATIENTS + 1)]
        today = timezone.localdate(timezone=center.zone)
        for index, patient in enumerate(patients):
            plan = self.plan(center, patient, index, today)
            if not plan.sessions.exists():
                self.sessions(plan, today)
        self.chairside_records(center)
        self.reminders(center)
        if accounts or settings.DEBUG:
            self.accounts(patients[0])
        sessions = InfusionSession.objects.filter(center=center).count()
        self.stdout.write(f"Demo data ready: {center.name}, {len(patients)} patients, {sessions} sessions.")

    def center(self) -> Center:
        center, created = Center.objects.get_or_create(
            name=CENTER_NAME,
            defaults={
                "short_name": "Demo IC",
                "time_zone": "America/New_York",
                "default_nurses_on_duty": 2,
                "patients_per_nurse": 4,
            },
        )
        if created:
            for weekday in range(5):
                OpeningHours.objects.create(
                    center=center, weekday=weekday, opens=dt.time(8), closes=dt.time(18)
                )
        for number in range(1, CHAIRS + 1):
            Chair.objects.get_or_create(center=center, name=f"Chair {number}")
        return center

    def patient(self, number: int) -> Patient:
        patient, created = Patient.objects.get_or_create(
            mrn=f"DEMO{number:04d}",
            defaults={
                "given_name": GIVEN_NAMES[number - 1],
                "family_name": f"Demo-{number:02d}",
                "date_of_birth": dt.date(1950 + (number * 7) % 45, 1 + number % 12, 1 + (number * 3) % 28),
                "sex": "female" if number % 3 else "male",
                "height_cm": Decimal(150 + (number * 7) % 40),
                "time_zone": "America/New_York",
                "email": f"demo{number:02d}@example.invalid",
                "phone": f"+1202555{number:04d}",
                "reminder_channel": ("email", "sms", "both", "email")[number % 4],
                "thrombosis_risk": number % 7 == 0,
                "renal_risk": number % 9 == 0,
                "diabetes": number % 5 == 0,
                "iga_status": IgAStatus.DEFICIENT if number == 11 else IgAStatus.NORMAL,
            },
        )
        if created:
            base = Decimal(55 + (number * 13) % 50)
            for months_ago, delta in ((6, Decimal("1.5")), (3, Decimal("0.8")), (0, Decimal("0"))):
                PatientWeight.objects.create(
                    patient=patient,
                    weight_kg=base + delta,
                    measured_on=timezone.localdate() - dt.timedelta(days=30 * months_ago + 3),
                )
        return patient

    def plan(self, center: Center, patient: Patient, index: int, today: dt.date) -> InfusionPlan:
        existing = patient.plans.first()
        if existing is not None:
            return existing
        four_weekly = index % 5 != 4
        period = 28 if four_weekly else 14
        offset = (index * 3) % period
        return InfusionPlan.objects.create(
            patient=patient,
            protocol=Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis"),
            center=center,
            dose_g_per_kg=Decimal("2.00") if four_weekly else Decimal("1.00"),
            days_per_course=2 if four_weekly else 1,
            interval=Interval.EVERY_4_WEEKS if four_weekly else Interval.BIWEEKLY,
            start_date=next_open_day(center, today - dt.timedelta(days=14 - offset)),
            course_count=6 if four_weekly else 12,
            preferred_start_time=PREFERRED_TIMES[index % len(PREFERRED_TIMES)],
            status=PlanStatus.ACTIVE,
        )

    def sessions(self, plan: InfusionPlan, today: dt.date) -> None:
        """Book the plan's courses that fall before four weeks from today, first chair free."""
        dose = plan_dose(plan)
        horizon = today + dt.timedelta(weeks=4)
        for course in range(1, plan.course_count + 1):
            first = next_open_day(
                plan.center, plan.start_date + dt.timedelta(days=plan.interval_length_days * (course - 1))
            )
            if first > horizon:
                break
            day = first
            for day_number in range(1, plan.days_per_course + 1):
                self.place(plan, dose, course, day_number, day)
                day = next_open_day(plan.center, day + dt.timedelta(days=1))

    def place(self, plan: InfusionPlan, dose, course: int, day_number: int, day: dt.date) -> None:
        center = plan.center
        length = dt.timedelta(minutes=dose.chair_minutes)
        closes = dt.datetime.combine(
            day, center.opening_hours.get(weekday=day.weekday()).closes, tzinfo=center.zone
        )
        start = dt.datetime.combine(day, plan.preferred_start_time, tzinfo=center.zone)
        while start + length <= closes:
            busy = InfusionSession.objects.live().overlapping(start, start + length)
            chair = center.chairs.filter(is_active=True).exclude(sessions__in=busy).order_by("name").first()
            if chair is not None and not busy.filter(patient=plan.patient).exists():
                InfusionSession.objects.create(
                    patient=plan.patient,
                    plan=plan,
                    center=center,
                    chair=chair,
                    start=start,
                    end=start + length,
                    status=demo_status(start, start + length, plan.patient_id + course),
                    course=course,
                    day=day_number,
                    grams=Decimal(str(dose.grams_per_day)).quantize(Decimal("0.01")),
                    volume_ml=Decimal(str(dose.volume_ml_per_day)).quantize(Decimal("0.1")),
                    chair_minutes=dose.chair_minutes,
                    ladder=[
                        {
                            "start_minute": s.start_minute,
                            "minutes": s.minutes,
                            "rate_mg_kg_min": s.rate_mg_kg_min,
                        }
                        for s in dose.steps
                    ],
                )
                return
            start += dt.timedelta(minutes=30)

    def chairside_records(self, center: Center) -> None:
        """What the nurse documented in each past completed session that has no record yet:
        a rate log that follows the planned ladder, vitals before and after, and the lots."""
        sessions = (
            InfusionSession.objects.filter(
                center=center, status=SessionStatus.COMPLETED, plan__isnull=False, rate_changes__isnull=True
            )
            .select_related("patient", "center", "plan__protocol__product")
            .order_by("start")
        )
        for session in sessions:
            document_session(session)

    def reminders(self, center: Center) -> None:
        """Reminder rows for the sessions still ahead, as booking makes them (idempotent)."""
        upcoming = (
            InfusionSession.objects.live()
            .filter(center=center, start__gt=timezone.now())
            .select_related("center", "patient")
        )
        for session in upcoming:
            reminders_plan(session)

    def accounts(self, portal_patient: Patient) -> None:
        for username, group, is_staff in ACCOUNTS:
            user = demo_user(username, is_staff=is_staff)
            user.groups.add(Group.objects.get(name=group))
        user = demo_user("patient")
        user.groups.add(Group.objects.get(name="patient"))
        if portal_patient.user_id != user.pk:
            portal_patient.user = user
            portal_patient.save(update_fields=["user"])
        self.stdout.write("Demo logins (password 'demo'): scheduler, nurse, pharmacist, patient.")


def demo_user(username: str, *, is_staff: bool = False) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def next_open_day(center: Center, day: dt.date) -> dt.date:
    open_weekdays = set(center.opening_hours.values_list("weekday", flat=True))
    closed = set(center.closed_dates.values_list("date", flat=True))
    while day.weekday() not in open_weekdays or day in closed:
        day += dt.timedelta(days=1)
    return day


def document_session(session: InfusionSession) -> None:
    """Chairside records for a completed demo session, written as the nurse would have.

    Rows are saved one by one (not bulk-created) so that their history is kept.
    """
    product = session.plan.protocol.product
    weight = chairside.session_dosing_weight(session)
    ladder = session.ladder or []
    started = session.start + dt.timedelta(minutes=session.center.buffer_before_minutes)
    infusion = sum(float(step["minutes"]) for step in ladder)
    session.checked_in_at = session.start + dt.timedelta(minutes=5)
    session.started_at = started
    session.completed_at = started + dt.timedelta(minutes=infusion)
    salt = session.pk % 7
    VitalSigns.objects.create(
        session=session,
        at=session.checked_in_at + dt.timedelta(minutes=10),
        systolic=116 + salt,
        diastolic=74 + salt,
        heart_rate=68 + salt,
        temperature_c=Decimal("36.7"),
        spo2=98,
    )
    for step in ladder:
        rate = dosing.display_ml_per_hour(
            dosing.ml_per_hour(
                rate_mg_kg_min=float(step["rate_mg_kg_min"]),
                dosing_weight_kg=weight,
                concentration_mg_per_ml=float(product.concentration_mg_per_ml),
            )
        )
        RateChange.objects.create(
            session=session,
            at=started + dt.timedelta(minutes=float(step["start_minute"])),
            rate_ml_per_hour=Decimal(repr(rate)),
            rate_mg_kg_min=Decimal(
                repr(
                    dosing.mg_kg_min(
                        rate_ml_per_hour=rate,
                        dosing_weight_kg=weight,
                        concentration_mg_per_ml=float(product.concentration_mg_per_ml),
                    )
                )
            ).quantize(Decimal("0.0001")),
            dosing_weight_kg=Decimal(repr(weight)),
        )
    vials = dosing.round_to_vials(grams=float(session.grams), vial_sizes_g=product.vial_sizes).vials
    for vial in vials:
        LotUse.objects.create(
            session=session,
            at=started,
            product=product,
            lot_number=f"DEMO{session.start:%y%m}-{vial.grams:g}G".replace(".", "P"),
            expiry=session.start.date() + dt.timedelta(days=365),
            vial_grams=Decimal(repr(vial.grams)),
            count=vial.count,
        )
    VitalSigns.objects.create(
        session=session,
        at=session.completed_at,
        systolic=120 + salt,
        diastolic=76,
        heart_rate=72 + salt,
        spo2=98,
    )
    session.grams_infused = Decimal(repr(chairside.grams_infused(session))).quantize(Decimal("0.01"))
    session.save(update_fields=["checked_in_at", "started_at", "completed_at", "grams_infused", "updated_at"])


def demo_status(start: dt.datetime, end: dt.datetime, salt: int) -> str:
    now = timezone.now()
    if end <= now:
        return SessionStatus.NO_SHOW if salt % 11 == 0 else SessionStatus.COMPLETED
    if start <= now:
        return SessionStatus.IN_PROGRESS
    if start - now < dt.timedelta(days=3) and salt % 2 == 0:
        return SessionStatus.CONFIRMED
    return SessionStatus.SCHEDULED
