"""STD_MESSAGE holds every code of the catalogue, and codes are unique and short enough for the column."""

from monitoring.messages import Msg
from monitoring.models import StdMessage


def test_every_catalogue_message_is_in_std_message(db):
    """Each Msg member has its STD_MESSAGE row with the same code, type, source and category."""
    rows = {row.message_id: row for row in StdMessage.objects.all()}
    assert sorted(rows) == sorted(m.name for m in Msg)
    for message in Msg:
        row = rows[message.name]
        assert (row.message_code, row.message_type, row.source_type, row.category) == (
            message.code,
            message.message_type,
            message.source_type,
            message.category,
        )


def test_codes_are_unique_and_fit_the_column():
    """MESSAGE_CODE is VARCHAR(10) and unique; every message has Korean and English wording."""
    codes = [m.code for m in Msg]
    assert len(codes) == len(set(codes))
    assert all(len(code) <= 10 for code in codes)
    assert all(m.ko and m.en for m in Msg)
