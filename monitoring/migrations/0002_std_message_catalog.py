"""Fill STD_MESSAGE from the catalogue in monitoring.messages (later codes: `manage.py sync_std_messages`)."""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from monitoring.messages import Msg

    StdMessage = apps.get_model("monitoring", "StdMessage")
    for message in Msg:
        StdMessage.objects.get_or_create(
            message_id=message.name,
            defaults={
                "message_type": message.message_type,
                "source_type": message.source_type,
                "category": message.category,
                "message_code": message.code,
                "message_name": message.name[:50],
                "message_desc": message.ko,
                "message_desc_en": message.en,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
