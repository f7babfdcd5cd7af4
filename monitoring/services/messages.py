"""Writes of monitoring data."""

from django.db import transaction

from ..messages import Msg
from ..models import StdMessage


@transaction.atomic
def std_message_sync() -> int:
    """Make STD_MESSAGE hold every message of the catalogue; returns how many rows were created.

    Existing rows keep an operator's edited wording; only missing codes are added and the
    code attributes (type, source, category) follow the catalogue.
    """
    created = 0
    for message in Msg:
        _row, was_created = StdMessage.objects.update_or_create(
            message_id=message.name,
            defaults={
                "message_type": message.message_type,
                "source_type": message.source_type,
                "category": message.category,
                "message_code": message.code,
            },
            create_defaults={
                "message_type": message.message_type,
                "source_type": message.source_type,
                "category": message.category,
                "message_code": message.code,
                "message_name": message.name[:50],
                "message_desc": message.ko,
                "message_desc_en": message.en,
            },
        )
        created += int(was_created)
    return created
