"""Server status and snapshots are view only; standard messages can be reworded, never recoded."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.messages import Msg
from monitoring.models import Monitoring, StdMessage, SystemStatus


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def monitoring_rows(db):
    return {
        "systemstatus": SystemStatus.objects.create(
            server_id="web-1",
            server_type="WEB",
            status_code="UP",
            cpu_usage=Decimal("12.50"),
            memory_usage=Decimal("40.00"),
            network_status="NORMAL",
        ),
        "monitoring": Monitoring.objects.create(
            monitoring_time=timezone.now(),
            total_conn_cnt=120,
            group_conn_cnt=4,
            server_load_status="NORMAL",
            network_status="NORMAL",
            error_cnt=0,
            violation_cnt=3,
        ),
    }


@pytest.mark.parametrize("model_name", ["systemstatus", "monitoring"])
def test_monitoring_tables_are_view_only(en_client, monitoring_rows, model_name):
    """Lists and pages open; add, change and delete answer 403 and the row is unchanged."""
    # given
    row = monitoring_rows[model_name]
    before = type(row).objects.filter(pk=row.pk).values().get()

    # when
    listing = en_client.get(reverse(f"admin:monitoring_{model_name}_changelist"))
    view = en_client.get(reverse(f"admin:monitoring_{model_name}_change", args=[row.pk]))
    add = en_client.get(reverse(f"admin:monitoring_{model_name}_add"))
    change = en_client.post(reverse(f"admin:monitoring_{model_name}_change", args=[row.pk]), {"error_cnt": "9"})
    delete = en_client.post(reverse(f"admin:monitoring_{model_name}_delete", args=[row.pk]), {"post": "yes"})

    # then
    assert (listing.status_code, view.status_code) == (200, 200)
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert type(row).objects.filter(pk=row.pk).values().get() == before


def test_std_message_wording_is_editable_and_code_is_not(en_client):
    """An operator can reword a message in both languages; the code, name and kind ignore what is posted."""
    # given
    message = StdMessage.objects.get(message_id=Msg.IMPORT_ROW_INVALID.name)
    url = reverse("admin:monitoring_stdmessage_change", args=[message.pk])

    # when
    response = en_client.post(
        url,
        {
            "message_code": "HACK-1",
            "message_type": "INFO",
            "message_name": "X",
            "message_desc": "잘못된 줄이 있어 가져오지 않았습니다.",
            "message_desc_en": "Bad lines; nothing imported.",
        },
    )

    # then
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.message_code, message.message_type, message.message_name) == (
        Msg.IMPORT_ROW_INVALID.code,
        Msg.IMPORT_ROW_INVALID.message_type,
        Msg.IMPORT_ROW_INVALID.name,
    )
    assert (message.message_desc, message.message_desc_en) == (
        "잘못된 줄이 있어 가져오지 않았습니다.",
        "Bad lines; nothing imported.",
    )


def test_std_messages_cannot_be_added_or_deleted(en_client):
    """The codes come from the catalogue only: add and delete answer 403."""
    # given
    message = StdMessage.objects.get(message_id=Msg.AUTH_INVALID_CREDENTIALS.name)
    count = StdMessage.objects.count()

    # when
    add = en_client.get(reverse("admin:monitoring_stdmessage_add"))
    delete = en_client.post(reverse("admin:monitoring_stdmessage_delete", args=[message.pk]), {"post": "yes"})

    # then
    assert (add.status_code, delete.status_code) == (403, 403)
    assert StdMessage.objects.count() == count
