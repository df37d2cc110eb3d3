"""Ship the IVIG product catalogue (see infusions/catalogue_data.py)."""

from __future__ import annotations

from django.db import migrations

from infusions.catalogue_data import catalogue_install


def install(apps, schema_editor) -> None:
    catalogue_install(
        apps.get_model("infusions", "Indication"),
        apps.get_model("infusions", "Product"),
        apps.get_model("infusions", "Protocol"),
        apps.get_model("infusions", "ProtocolStep"),
    )


class Migration(migrations.Migration):
    dependencies = [("infusions", "0002_no_double_booking")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
