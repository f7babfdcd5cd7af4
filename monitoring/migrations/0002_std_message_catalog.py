"""Fill STD_MESSAGE from the catalogue in monitoring.messages (later codes: `manage.py sync_std_messages`)."""

from django.db import migrations

from monitoring.migrations import _catalog


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunPython(_catalog.load_catalog, migrations.RunPython.noop)]
