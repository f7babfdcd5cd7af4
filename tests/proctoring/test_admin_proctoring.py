"""Violations, socket sessions and media captures in the admin: view only."""

import pytest
from django.urls import reverse
from django.utils import timezone

from proctoring.models import MediaCapture, SocketSession, Violation


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def proctoring_rows(examinee):
    now = timezone.now()
    key = {"group_id": examinee.group_id, "plan_id": examinee.plan_id}
    return {
        "violation": Violation.objects.create(
            examinee=examinee, **key, violation_type_code="FOCUS_LOST", occurrence_datetime=now
        ),
        "socketsession": SocketSession.objects.create(
            socket_id="sock-1",
            **key,
            user_type="EXAMINEE",
            user_id=examinee.pk,
            conn_time=now,
            last_heartbeat=now,
            client_ip="10.0.0.7",
            os_info="Windows 11",
            browser_info="Chrome 140",
            screen_info="1920x1080",
        ),
        "mediacapture": MediaCapture.objects.create(
            examinee=examinee,
            **key,
            media_type=MediaCapture._meta.get_field("media_type").choices[0][0],
            content_type="image/jpeg",
            size_bytes=51200,
            sha256="a" * 64,
            captured_at=now,
        ),
    }


@pytest.mark.parametrize("model_name", ["violation", "socketsession", "mediacapture"])
def test_proctoring_tables_are_view_only(en_client, proctoring_rows, model_name):
    """Lists and pages open; add, change and delete answer 403 and the row is unchanged."""
    # given
    row = proctoring_rows[model_name]
    before = type(row).objects.filter(pk=row.pk).values().get()

    # when
    listing = en_client.get(reverse(f"admin:proctoring_{model_name}_changelist"))
    view = en_client.get(reverse(f"admin:proctoring_{model_name}_change", args=[row.pk]))
    add = en_client.get(reverse(f"admin:proctoring_{model_name}_add"))
    change = en_client.post(reverse(f"admin:proctoring_{model_name}_change", args=[row.pk]), {"status": "STORED"})
    delete = en_client.post(reverse(f"admin:proctoring_{model_name}_delete", args=[row.pk]), {"post": "yes"})

    # then
    assert (listing.status_code, view.status_code) == (200, 200)
    assert listing.context["cl"].result_count == 1
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert type(row).objects.filter(pk=row.pk).values().get() == before


def test_violations_filter_by_type_and_search_exact_examinee(en_client, proctoring_rows, examinee):
    """Violations filter by type and date and are found by the exact examinee ID."""
    # given
    url = reverse("admin:proctoring_violation_changelist")

    # when
    by_type = en_client.get(url, {"violation_type_code__exact": "FOCUS_LOST"})
    other_type = en_client.get(url, {"violation_type_code__exact": "NO_FACE"})
    by_id = en_client.get(url, {"q": examinee.pk})

    # then
    assert [v.pk for v in by_type.context["cl"].result_list] == [proctoring_rows["violation"].pk]
    assert list(other_type.context["cl"].result_list) == []
    assert [v.pk for v in by_id.context["cl"].result_list] == [proctoring_rows["violation"].pk]
