"""No double booking, as a database guarantee on PostgreSQL.

A chair, and a patient, hold at most one live session at any instant. The
constraints are exclusion constraints over half-open time ranges, which SQLite
cannot parse; they are added here with vendor-guarded SQL and kept out of the
model state, because a `Meta.constraints` entry would break SQLite migrations
on the next table rebuild. On SQLite, IMMEDIATE transactions serialise writers
and the booking service checks for overlaps inside its transaction.
"""

from __future__ import annotations

from django.db import migrations

RELEASED = "('cancelled', 'no_show')"
CONSTRAINTS = {
    "session_no_chair_overlap": "chair_id",
    "session_no_patient_overlap": "patient_id",
}


def add_exclusions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE infusions_infusionsession ADD CONSTRAINT {name} "
            f"EXCLUDE USING GIST (tstzrange(start, \"end\", '[)') WITH &&, {column} WITH =) "
            f"WHERE (status NOT IN {RELEASED})"
        )


def drop_exclusions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE infusions_infusionsession DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("infusions", "0001_initial")]

    operations = [migrations.RunPython(add_exclusions, drop_exclusions)]
