"""The IVIG catalogue that Chairside ships, from the product labels.

Label figures and their sources are in docs/ivig-products.md; each product keeps
its remarks in `notes` and each protocol its source in `source`.
All products are 10% liquids (100 mg/mL). Gammagard Liquid's label states
rates in mL/kg/h; they are stored here in mg/kg/min (× 100 / 60) to four
places, which is within 0.01 mL/h at any weight Chairside accepts.

`catalogue_install` is used by the data migration and by `seed_demo`; it only
adds what is missing and never overwrites a pharmacist's edits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

INDICATIONS = {
    "dermatomyositis": "Dermatomyositis",
    "chronic_itp": "Chronic immune thrombocytopenia (ITP)",
    "primary_immunodeficiency": "Primary immunodeficiency",
    "cidp": "Chronic inflammatory demyelinating polyneuropathy (CIDP)",
    "mmn": "Multifocal motor neuropathy",
}

STANDARD_LADDER = [("1", 30), ("2", 30), ("4", 30), ("8", 30)]
# Gammagard Liquid: 0.5, 1, 2, 3, 4 mL/kg/h for 30 min each (PI), in mg/kg/min.
GAMMAGARD_LADDER = [("0.8333", 30), ("1.6667", 30), ("3.3333", 30), ("5", 30), ("6.6667", 30)]


def _protocol(indication: str, start: str, max_rate: str, steps, dose: str = "", source: str = "") -> dict:
    return {
        "indication": indication,
        "start": Decimal(start),
        "max": Decimal(max_rate),
        "steps": [(Decimal(rate), minutes) for rate, minutes in steps],
        "confirmed": bool(steps),
        "dose": dose,
        "source": source,
    }


PRODUCTS: list[dict[str, Any]] = [
    {
        "code": "octagam-10",
        "name": "Octagam 10%",
        "manufacturer": "Octapharma",
        "vials": [2, 5, 10, 20],
        "iga": Decimal("106"),
        "maltose": True,
        "risk_cap": Decimal("3.0"),
        "active": True,
        "notes": (
            "Risk cap: the label gives 3.3 mg/kg/min and 0.03 mL/kg/min; Chairside enforces the "
            "stricter 0.03 mL/kg/min = 3.0 mg/kg/min. Contains maltose (90 mg/mL): falsely high "
            "GDH-PQQ glucose-meter readings. Contraindicated in IgA deficiency with anti-IgA antibodies."
        ),
        "protocols": [
            _protocol(
                "dermatomyositis",
                "1",
                "4",
                STANDARD_LADDER,
                dose="2 g/kg per course over 2–5 consecutive days, every 4 weeks",
                source="US PI, Dosage & Administration, Table 1: do not exceed 0.04 mL/kg/min in DM; "
                "octagam.com DM dosing page (start 1 mg/kg/min for 30 min, increase every 30 min).",
            ),
            _protocol(
                "chronic_itp",
                "1",
                "12",
                STANDARD_LADDER,
                dose="1 g/kg/day for 2 consecutive days",
                source="US PI Table 1.",
            ),
        ],
    },
    {
        "code": "panzyga",
        "name": "Panzyga",
        "manufacturer": "Octapharma",
        "vials": [1, 2.5, 5, 10, 20, 30],
        "iga": None,
        "maltose": False,
        "risk_cap": Decimal("3.3"),
        "active": True,
        "notes": "Risk cap 3.3 mg/kg/min (0.033 mL/kg/min).",
        "protocols": [
            _protocol(
                "chronic_itp",
                "1",
                "8",
                [("1", 30), ("4", 30)],
                source="panzygausa.com cITP dosing chart (1 → 4 → 8); the label allows 15–30 min steps.",
            ),
            _protocol("primary_immunodeficiency", "1", "14", STANDARD_LADDER, source="US PI."),
            _protocol("cidp", "1", "12", STANDARD_LADDER, source="US PI."),
        ],
    },
    {
        "code": "bivigam",
        "name": "Bivigam",
        "manufacturer": "ADMA Biologics",
        "vials": [5, 10],
        "iga": None,
        "maltose": False,
        "risk_cap": Decimal("2"),
        "active": True,
        "notes": "Risk cap: less than 2 mg/kg/min for patients at thromboembolic risk.",
        "protocols": [
            _protocol(
                "primary_immunodeficiency",
                "0.5",
                "6",
                [("0.5", 10), ("1.3", 20), ("2.1", 20), ("2.9", 20), ("3.7", 20), ("4.5", 20), ("5.3", 20)],
                source="bivigam.com dosing and administration: 0.5 mg/kg/min for 10 min, "
                "then +0.8 every 20 min, max 6.",
            ),
        ],
    },
    {
        "code": "gammagard-liquid",
        "name": "Gammagard Liquid",
        "manufacturer": "Takeda",
        "vials": [1, 2.5, 5, 10, 20, 30],
        "iga": Decimal("37"),
        "maltose": False,
        "risk_cap": None,
        "active": True,
        "notes": "Label rates are in mL/kg/h; stored in mg/kg/min (× 100/60).",
        "protocols": [
            _protocol(
                "primary_immunodeficiency",
                "0.8333",
                "8.3333",
                GAMMAGARD_LADDER,
                source="gammagard.com PIDD dosing: 0.5 mL/kg/h for 30 min, increase every 30 min, "
                "max 5 mL/kg/h; step sizes as in its dosing calculator.",
            ),
            _protocol(
                "mmn",
                "0.8333",
                "9",
                GAMMAGARD_LADDER,
                source="gammagard.com MMN: max 5.4 mL/kg/h (9 mg/kg/min).",
            ),
        ],
    },
    # Labels that give only a start and a maximum: inactive until the center
    # confirms a ladder.
    {
        "code": "gamunex-c",
        "name": "Gamunex-C",
        "manufacturer": "Grifols",
        "vials": [1, 2.5, 5, 10, 20, 40],
        "iga": Decimal("46"),
        "maltose": False,
        "risk_cap": None,
        "active": False,
        "notes": "The label gives a start rate and a maximum only; confirm a ladder before use.",
        "protocols": [
            _protocol("primary_immunodeficiency", "1", "8", []),
            _protocol("chronic_itp", "1", "8", []),
            _protocol("cidp", "2", "8", []),
        ],
    },
    {
        "code": "privigen",
        "name": "Privigen",
        "manufacturer": "CSL Behring",
        "vials": [5, 10, 20, 40],
        "iga": Decimal("25"),
        "maltose": False,
        "risk_cap": None,
        "active": False,
        "notes": "IgA ≤ 25 µg/mL. Start and maximum only; confirm a ladder before use.",
        "protocols": [
            _protocol("primary_immunodeficiency", "0.5", "8", []),
            _protocol("cidp", "0.5", "8", []),
            _protocol("chronic_itp", "0.5", "4", []),
        ],
    },
    {
        "code": "flebogamma-10-dif",
        "name": "Flebogamma 10% DIF",
        "manufacturer": "Grifols",
        "vials": [5, 10, 20],
        "iga": Decimal("100"),
        "maltose": False,
        "risk_cap": None,
        "active": False,
        "notes": "IgA < 100 µg/mL. Start and maximum only; confirm a ladder before use.",
        "protocols": [
            _protocol("primary_immunodeficiency", "1", "8", []),
            _protocol("chronic_itp", "1", "8", []),
        ],
    },
    {
        "code": "asceniv",
        "name": "Asceniv",
        "manufacturer": "ADMA Biologics",
        "vials": [5],
        "iga": Decimal("200"),
        "maltose": False,
        "risk_cap": None,
        "active": False,
        "notes": "IgA ≤ 200 µg/mL. Label: 0.5 mg/kg/min for 15 min, steps every 15 min; confirm a ladder.",
        "protocols": [_protocol("primary_immunodeficiency", "0.5", "8", [])],
    },
]


def catalogue_install(Indication, Product, Protocol, ProtocolStep) -> int:
    """Add whatever part of the shipped catalogue is missing; return rows added.

    Takes the model classes so that a migration can pass its historical ones.
    """
    added = 0
    indications = {}
    for code, name in INDICATIONS.items():
        indications[code], created = Indication.objects.get_or_create(code=code, defaults={"name": name})
        added += created
    for entry in PRODUCTS:
        product, created = Product.objects.get_or_create(
            code=entry["code"],
            defaults={
                "name": entry["name"],
                "manufacturer": entry["manufacturer"],
                "concentration_mg_per_ml": 100,
                "vial_sizes_g": entry["vials"],
                "iga_ug_per_ml": entry["iga"],
                "contains_maltose": entry["maltose"],
                "risk_cap_mg_kg_min": entry["risk_cap"],
                "is_active": entry["active"],
                "notes": entry["notes"],
            },
        )
        added += created
        for spec in entry["protocols"]:
            added += _protocol_install(Protocol, ProtocolStep, product, indications[spec["indication"]], spec)
    return added


def _protocol_install(Protocol, ProtocolStep, product, indication, spec: dict) -> int:
    protocol, created = Protocol.objects.get_or_create(
        product=product,
        indication=indication,
        defaults={
            "start_rate_mg_kg_min": spec["start"],
            "max_rate_mg_kg_min": spec["max"],
            "ladder_confirmed": spec["confirmed"],
            "usual_dose": spec["dose"],
            "source": spec["source"],
        },
    )
    if not created:
        return 0
    for position, (rate, minutes) in enumerate(spec["steps"], start=1):
        ProtocolStep.objects.create(
            protocol=protocol, position=position, rate_mg_kg_min=rate, minutes=minutes
        )
    return 1 + len(spec["steps"])
