"""Add the standard messages the catalogue gained since 0002 (AUT-005/006, EXM-006..008, IMP-003/004).

Databases migrated before those codes existed get them here; rows already present are left as
they are (an operator may have reworded them).
"""

from django.db import migrations

from monitoring.migrations import _catalog


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_std_message_catalog")]

    operations = [migrations.RunPython(_catalog.load_catalog, migrations.RunPython.noop)]
