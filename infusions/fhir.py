"""A session's chairside record as a FHIR R4B Bundle (type `collection`).

What goes in: the Patient; the session as an Appointment; one Medication per
product (its `ingredient`s point at one Medication per lot used, each with its
`batch.lotNumber` and expiry); one MedicationAdministration per rate period
(`dosage.rateQuantity` in UCUM `mL/h`; the volume of the period as
`dosage.dose`; the lot numbers again in `note`); one Observation per vital
sign (LOINC code, UCUM unit); one AdverseEvent per reaction. Only entries in
force are exported: a corrected entry is replaced by its correction, whose
Observations say `amended`.

References are `urn:uuid:` full URLs derived from the site and the row, so the
same session always exports the same identifiers. The bundle is validated with
`fhir.resources` (R4B, not its default R5) before it leaves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from infusions.chairside import in_force, rate_events, rate_periods
from infusions.models import (
    InfusionSession,
    LotUse,
    Product,
    Reaction,
    ReactionAction,
    SessionStatus,
    VitalSigns,
)

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ADVERSE_EVENT_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"

# field -> (LOINC code, display, UCUM code, unit shown)
VITAL_CODES = {
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg"),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg"),
    "heart_rate": ("8867-4", "Heart rate", "/min", "beats/minute"),
    "temperature_c": ("8310-5", "Body temperature", "Cel", "°C"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%"),
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min", "breaths/minute"),
}
APPOINTMENT_STATUS = {
    SessionStatus.SCHEDULED: "booked",
    SessionStatus.CONFIRMED: "booked",
    SessionStatus.CHECKED_IN: "checked-in",
    SessionStatus.IN_PROGRESS: "arrived",
    SessionStatus.COMPLETED: "fulfilled",
    SessionStatus.CANCELLED: "cancelled",
    SessionStatus.NO_SHOW: "noshow",
}
INTRAVENOUS = {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]}


def _urn(kind: str, key: object) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{settings.SITE_URL}/fhir/{kind}/{key}')}"


def _when(at: dt.datetime, session: InfusionSession) -> str:
    return at.astimezone(session.center.zone).isoformat(timespec="seconds")


def _quantity(value: float, ucum: str, unit: str | None = None) -> dict:
    return {"value": value, "unit": unit or ucum, "system": UCUM, "code": ucum}


def session_for_fhir(pk: int) -> InfusionSession:
    """The session with everything the bundle reads, in a fixed number of queries."""
    return (
        InfusionSession.objects.select_related(
            "patient", "center", "chair", "plan__protocol__product", "plan__protocol__indication"
        )
        .prefetch_related(
            "rate_changes",
            "vital_signs",
            "reactions",
            Prefetch("lots", queryset=LotUse.objects.select_related("product")),
        )
        .get(pk=pk)
    )


class _Builder:
    def __init__(self, session: InfusionSession) -> None:
        self.session = session
        self.patient_ref = {
            "reference": _urn("Patient", session.patient_id),
            "display": session.patient.full_name,
        }
        self.entries: list[dict] = []

    def add(self, kind: str, key: object, resource: dict) -> str:
        url = _urn(kind, key)
        self.entries.append({"fullUrl": url, "resource": {"resourceType": kind, **resource}})
        return url

    def patient(self) -> None:
        patient = self.session.patient
        self.add(
            "Patient",
            patient.pk,
            {
                "id": f"patient-{patient.pk}",
                "identifier": [{"system": f"{settings.SITE_URL}/mrn", "value": patient.mrn}],
                "name": [{"family": patient.family_name, "given": [patient.given_name]}],
                "gender": patient.sex,
                "birthDate": patient.date_of_birth.isoformat(),
            },
        )

    def appointment(self) -> str:
        session = self.session
        return self.add(
            "Appointment",
            session.pk,
            {
                "id": f"session-{session.pk}",
                "identifier": [{"system": f"{settings.SITE_URL}/sessions", "value": str(session.pk)}],
                "status": APPOINTMENT_STATUS[session.status],
                "description": "IVIG infusion",
                "start": _when(session.start, session),
                "end": _when(session.end, session),
                "minutesDuration": round((session.end - session.start).total_seconds() / 60),
                "participant": [
                    {"actor": self.patient_ref, "status": "accepted"},
                    {
                        "actor": {"display": f"{session.center.name}, {session.chair.name}"},
                        "status": "accepted",
                    },
                ],
            },
        )

    def medications(self, lots: list[LotUse]) -> dict[int, str]:
        """A Medication per lot (its batch), and per product one that lists its lots."""
        products: dict[int, Product] = {lot.product_id: lot.product for lot in lots}
        if self.session.plan is not None:
            products.setdefault(self.session.plan.product.pk, self.session.plan.product)
        lot_urls = {
            lot.pk: self.add(
                "Medication",
                f"lot-{lot.pk}",
                {
                    "id": f"lot-{lot.pk}",
                    "code": {"text": lot.product.name},
                    "batch": {"lotNumber": lot.lot_number, "expirationDate": lot.expiry.isoformat()},
                },
            )
            for lot in lots
        }
        urls = {}
        for product in products.values():
            ingredients = [
                {"itemReference": {"reference": lot_urls[lot.pk], "display": f"lot {lot.lot_number}"}}
                for lot in lots
                if lot.product_id == product.pk
            ]
            resource = {
                "id": f"product-{product.pk}",
                "code": {"text": product.name},
                "manufacturer": {"display": product.manufacturer},
                **({"ingredient": ingredients} if ingredients else {}),
            }
            urls[product.pk] = self.add(
                "Medication", f"product-{product.pk}-session-{self.session.pk}", resource
            )
        return urls

    def administrations(self, medication: str, appointment: str, lots: list[LotUse]) -> None:
        session = self.session
        events = rate_events(session.rate_changes.all(), session.reactions.all())
        stops = {
            e.at for e in events if e.reaction is not None and e.reaction.action == ReactionAction.STOPPED
        }
        lot_note = (
            "Lots: " + ", ".join(f"{lot.lot_number} ({lot.product.name})" for lot in lots) if lots else ""
        )
        for period in rate_periods(events, until=session.completed_at):
            if period.entry is None or period.rate_ml_per_hour <= 0:
                continue  # a pause gives nothing
            entry = period.entry
            effective = {"start": _when(period.start, session)}
            if period.end is None:
                status = "in-progress"
            else:
                effective["end"] = _when(period.end, session)
                status = "stopped" if period.end in stops else "completed"
            dosage = {"route": INTRAVENOUS, "rateQuantity": _quantity(float(entry.rate_ml_per_hour), "mL/h")}
            if period.end is not None:
                volume = float(entry.rate_ml_per_hour) * (period.end - period.start).total_seconds() / 3600
                dosage["dose"] = _quantity(round(volume, 1), "mL")
            note = f"{entry.rate_mg_kg_min.normalize():f} mg/kg/min at a dosing weight of {entry.dosing_weight_kg} kg."
            self.add(
                "MedicationAdministration",
                f"rate-{entry.pk}",
                {
                    "id": f"rate-{entry.pk}",
                    "status": status,
                    "medicationReference": {"reference": medication, "display": session.plan.product.name},
                    "subject": self.patient_ref,
                    "supportingInformation": [{"reference": appointment}],
                    "effectivePeriod": effective,
                    "dosage": dosage,
                    "note": [{"text": f"{note} {lot_note}".strip()}],
                },
            )

    def observations(self, vitals: Iterable[VitalSigns]) -> None:
        session = self.session
        category = [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
        ]
        for entry in vitals:
            for field, (code, display, ucum, unit) in VITAL_CODES.items():
                value = getattr(entry, field)
                if value is None:
                    continue
                key = f"vitals-{entry.pk}-{field.replace('_', '-')}"
                self.add(
                    "Observation",
                    key,
                    {
                        "id": key,
                        "status": "amended" if entry.amends_id else "final",
                        "category": category,
                        "code": {
                            "coding": [{"system": LOINC, "code": code, "display": display}],
                            "text": display,
                        },
                        "subject": self.patient_ref,
                        "effectiveDateTime": _when(entry.at, session),
                        "valueQuantity": _quantity(float(value), ucum, unit),
                    },
                )

    def adverse_events(self, reactions: Iterable[Reaction], medication: str | None) -> None:
        session = self.session
        for reaction in reactions:
            text = ", ".join(s.replace("_", " ") for s in reaction.symptoms)
            if reaction.symptom_notes:
                text = f"{text}; {reaction.symptom_notes}" if text else reaction.symptom_notes
            resource = {
                "id": f"reaction-{reaction.pk}",
                "actuality": "actual",
                "subject": self.patient_ref,
                "date": _when(reaction.at, session),
                "event": {
                    "text": f"Infusion reaction: {text}. Infusion {reaction.get_action_display().lower()}."
                },
                "severity": {"coding": [{"system": ADVERSE_EVENT_SEVERITY, "code": reaction.severity}]},
            }
            if medication is not None:
                resource["suspectEntity"] = [{"instance": {"reference": medication}}]
            self.add("AdverseEvent", f"reaction-{reaction.pk}", resource)


def session_bundle(session: InfusionSession) -> dict:
    """The Bundle as JSON-ready data; `session` should come from `session_for_fhir`."""
    builder = _Builder(session)
    builder.patient()
    appointment = builder.appointment()
    lots: list[LotUse] = in_force(session.lots.all())
    medications = builder.medications(lots)
    medication = medications.get(session.plan.product.pk) if session.plan is not None else None
    if medication is not None:
        builder.administrations(medication, appointment, lots)
    builder.observations(in_force(session.vital_signs.all()))
    builder.adverse_events(in_force(session.reactions.all()), medication)
    return {
        "resourceType": "Bundle",
        "id": f"session-{session.pk}-record",
        "type": "collection",
        "timestamp": timezone.now().astimezone(session.center.zone).isoformat(timespec="seconds"),
        "entry": builder.entries,
    }


def validated(bundle: dict) -> dict:
    """The bundle, validated against the R4B models (a programming error raises)."""
    from fhir.resources.R4B.bundle import Bundle  # R4B: the package's default is R5

    Bundle.model_validate(bundle)
    return bundle
