"""The STD_MESSAGE loader the catalogue migrations share (historical models, get_or_create)."""


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
