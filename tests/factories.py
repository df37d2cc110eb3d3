"""factory_boy factories for Chairside's models. Names and MRNs are synthetic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from infusions.models import Center, Chair, InfusionPlan, InfusionSession, OpeningHours, Protocol
from patients.models import Patient, PatientWeight


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"TEST{n:05d}")
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Testpatient{n}")
    date_of_birth = dt.date(1970, 5, 17)
    sex = "female"
    height_cm = Decimal("165.0")
    time_zone = "America/New_York"
    email = factory.LazyAttribute(lambda p: f"{p.mrn.lower()}@example.test")


class PatientWeightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientWeight

    patient = factory.SubFactory(PatientFactory)
    weight_kg = Decimal("70.0")
    measured_on = dt.date(2026, 11, 1)


class CenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Center
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Test Center {n}")
    short_name = factory.Sequence(lambda n: f"TC{n}")
    time_zone = "America/New_York"

    @factory.post_generation
    def weekdays(self, create: bool, extracted, **kwargs) -> None:
        """Open Monday to Friday 08:00–18:00 unless told otherwise."""
        if not create:
            return
        for weekday in extracted if extracted is not None else range(5):
            OpeningHours.objects.create(center=self, weekday=weekday, opens=dt.time(8), closes=dt.time(18))


class ChairFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chair

    center = factory.SubFactory(CenterFactory)
    name = factory.Sequence(lambda n: f"Chair {n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InfusionPlan

    patient = factory.SubFactory(PatientFactory)
    protocol = factory.LazyFunction(
        lambda: Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    )
    center = factory.SubFactory(CenterFactory)
    dose_g_per_kg = Decimal("2.00")
    days_per_course = 2
    interval = "every_4_weeks"
    start_date = dt.date(2026, 12, 7)
    course_count = 6


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InfusionSession

    patient = factory.SubFactory(PatientFactory)
    chair = factory.SubFactory(ChairFactory)
    center = factory.LazyAttribute(lambda s: s.chair.center)
    start = dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)
    end = factory.LazyAttribute(lambda s: s.start + dt.timedelta(minutes=s.chair_minutes))
    chair_minutes = 360
