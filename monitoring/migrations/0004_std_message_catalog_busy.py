"""Add SYS-005 (SYSTEM_BUSY: the exam socket's admission gate asks the page to come back later).

Rows already present are left as they are (an operator may have reworded them).
"""

from django.db import migrations

from monitoring.migrations import _catalog


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0003_std_message_catalog_refresh")]

    operations = [migrations.RunPython(_catalog.load_catalog, migrations.RunPython.noop)]
