"""The plan, group and paper admins, and the read-only progress admins."""

import pytest
from django.urls import reverse

from plans.models import (
    Examinee,
    ExamineeProgress,
    GroupProgress,
    StatusTransition,
    Supervisor,
    SupervisorProgress,
    TestGroup,
    TestPlan,
    TestProgress,
    TestStage,
)
from tests.plans import factories


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


def _inline_management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_plan_add_with_stage_and_group_inlines_creates_progress_rows(en_client):
    """A plan added in the admin gets TEST_PROGRESS (READY); its inline group gets GROUP_PROGRESS."""
    # given
    paper = factories.QuestionPaperFactory()
    data = {
        "plan_id": "P2027",
        "plan_name": "2027 모의고사",
        "start_datetime_0": "2027-03-01",
        "start_datetime_1": "09:00:00",
        "end_datetime_0": "2027-03-01",
        "end_datetime_1": "12:00:00",
        **_inline_management("stages", 1),
        "stages-0-stage_order": "1",
        "stages-0-stage_id": "P2027-S1",
        "stages-0-stage_name": "1교시",
        "stages-0-time_limit": "3600",
        "stages-0-auto_move_yn": "Y",
        "stages-0-test_code": paper.pk,
        "stages-0-test_time": "",
        **_inline_management("groups", 1),
        "groups-0-group_id": "P2027-G1",
        "groups-0-group_name": "제1고사실",
        "groups-0-start_datetime_0": "2027-03-01",
        "groups-0-start_datetime_1": "09:00:00",
        "groups-0-end_datetime_0": "2027-03-01",
        "groups-0-end_datetime_1": "12:00:00",
        "groups-0-group_desc": "",
    }

    # when
    response = en_client.post(reverse("admin:plans_testplan_add"), data)

    # then
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert TestPlan.objects.filter(pk="P2027").count() == 1
    assert TestProgress.objects.get(pk="P2027").status_code == "READY"
    assert list(TestStage.objects.values_list("pk", "plan_id", "stage_order", "test_code_id")) == [
        ("P2027-S1", "P2027", 1, paper.pk)
    ]
    progress = GroupProgress.objects.get(pk="P2027-G1")
    assert (progress.plan_id, progress.status_code, progress.assigned_examinee_cnt) == ("P2027", "READY", 0)


def test_plan_add_refuses_end_before_start(en_client):
    """The window check of the model refuses the form; no plan and no progress row is written."""
    # given
    data = {
        "plan_id": "PBAD",
        "plan_name": "잘못된 시험",
        "start_datetime_0": "2027-03-01",
        "start_datetime_1": "12:00:00",
        "end_datetime_0": "2027-03-01",
        "end_datetime_1": "09:00:00",
        **_inline_management("stages", 0),
        **_inline_management("groups", 0),
    }

    # when
    response = en_client.post(reverse("admin:plans_testplan_add"), data)

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert TestPlan.objects.filter(pk="PBAD").count() == 0
    assert TestProgress.objects.filter(pk="PBAD").count() == 0


def test_plan_list_and_page_show_status(en_client, plan, stage, group):
    """The plan list shows TEST_PROGRESS's status; the plan page shows its stages and groups."""
    # given
    list_url = reverse("admin:plans_testplan_changelist")

    # when
    listing = en_client.get(list_url)
    page = en_client.get(reverse("admin:plans_testplan_change", args=[plan.pk]))

    # then
    assert listing.status_code == 200
    assert "Ready" in listing.content.decode()
    html = page.content.decode()
    assert stage.stage_id in html and group.group_id in html


def test_group_add_creates_group_progress(en_client, plan):
    """A group added on its own page gets its GROUP_PROGRESS row through group_create."""
    # given
    data = {
        "group_id": "GNEW",
        "plan": plan.pk,
        "group_name": "제9고사실",
        "group_desc": "",
        "start_datetime_0": "2027-03-01",
        "start_datetime_1": "09:00:00",
        "end_datetime_0": "2027-03-01",
        "end_datetime_1": "12:00:00",
        **_inline_management("supervisors", 0),
    }

    # when
    response = en_client.post(reverse("admin:plans_testgroup_add"), data)

    # then
    assert response.status_code == 302
    assert GroupProgress.objects.filter(pk="GNEW", plan_id=plan.pk, status_code="READY").count() == 1


def test_group_page_lists_supervisors_and_links_to_its_examinees(en_client, group, plan, supervisor, make_examinees):
    """The group page shows its supervisors inline and links to the examinee list filtered to the group."""
    # given
    make_examinees(3)
    other_group = factories.TestGroupFactory(plan=plan)
    make_examinees(2, target_group=other_group, prefix="OT")

    # when
    page = en_client.get(reverse("admin:plans_testgroup_change", args=[group.pk]))
    link = reverse("admin:plans_examinee_changelist") + f"?plan={plan.pk}&amp;group={group.pk}"
    listing = en_client.get(reverse("admin:plans_examinee_changelist"), {"plan": plan.pk, "group": group.pk})

    # then
    html = page.content.decode()
    assert supervisor.supervisor_id in html
    assert f'<a href="{link}">3 examinees</a>' in html
    assert [e.pk for e in listing.context["cl"].result_list] == ["EX00000", "EX00001", "EX00002"]


def test_group_delete_takes_its_people_and_progress(en_client, group, make_examinees, supervisor):
    """Deleting a group removes its examinees, supervisors and their read-only progress rows."""
    # given
    make_examinees(2)

    # when
    confirm = en_client.get(reverse("admin:plans_testgroup_delete", args=[group.pk]))
    response = en_client.post(reverse("admin:plans_testgroup_delete", args=[group.pk]), {"post": "yes"})

    # then
    assert confirm.context["perms_lacking"] == set()
    assert response.status_code == 302
    assert TestGroup.objects.filter(pk=group.pk).count() == 0
    assert (Examinee.objects.count(), ExamineeProgress.objects.count()) == (0, 0)
    assert (Supervisor.objects.count(), SupervisorProgress.objects.count()) == (0, 0)


READ_ONLY_MODELS = [
    ("testprogress", lambda ctx: ctx["plan"].pk),
    ("groupprogress", lambda ctx: ctx["group"].pk),
    ("supervisorprogress", lambda ctx: ctx["supervisor"].pk),
    ("examineeprogress", lambda ctx: ctx["examinee"].pk),
]


@pytest.mark.parametrize(("model_name", "pk_of"), READ_ONLY_MODELS, ids=[m for m, _ in READ_ONLY_MODELS])
def test_progress_admins_are_view_only(en_client, plan, group, supervisor, examinee, model_name, pk_of):
    """Progress rows are visible but cannot be added, changed or deleted in the admin (403), and stay as they were."""
    # given
    pk = pk_of({"plan": plan, "group": group, "supervisor": supervisor, "examinee": examinee})
    counters_before = list(GroupProgress.objects.values())
    statuses_before = list(ExamineeProgress.objects.values()) + list(SupervisorProgress.objects.values())

    # when
    listing = en_client.get(reverse(f"admin:plans_{model_name}_changelist"))
    view = en_client.get(reverse(f"admin:plans_{model_name}_change", args=[pk]))
    add = en_client.get(reverse(f"admin:plans_{model_name}_add"))
    change = en_client.post(reverse(f"admin:plans_{model_name}_change", args=[pk]), {"status_code": "COMPLETED"})
    delete = en_client.post(reverse(f"admin:plans_{model_name}_delete", args=[pk]), {"post": "yes"})

    # then
    assert (listing.status_code, view.status_code) == (200, 200)
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(GroupProgress.objects.values()) == counters_before
    assert list(ExamineeProgress.objects.values()) + list(SupervisorProgress.objects.values()) == statuses_before
    assert TestProgress.objects.get(pk=plan.pk).status_code == "READY"


def test_status_transition_admin_is_view_only(en_client, plan):
    """The audit trail can be read but not written from the admin."""
    # given
    from django.utils import timezone

    row = StatusTransition.objects.create(
        occurred_at=timezone.now(),
        actor="admin",
        subject_type=StatusTransition._meta.get_field("subject_type").choices[0][0],
        subject_id=plan.pk,
        plan_id=plan.pk,
        action=StatusTransition._meta.get_field("action").choices[0][0],
        from_value="READY",
        to_value="IN_PROGRESS",
    )

    # when
    listing = en_client.get(reverse("admin:plans_statustransition_changelist"))
    add = en_client.get(reverse("admin:plans_statustransition_add"))
    change = en_client.post(reverse("admin:plans_statustransition_change", args=[row.pk]), {"actor": "someone"})

    # then
    assert listing.status_code == 200
    assert (add.status_code, change.status_code) == (403, 403)
    row.refresh_from_db()
    assert row.actor == "admin"


def test_question_paper_page_has_its_questions(en_client, stage):
    """A paper's page lists its questions inline."""
    # given
    paper = stage.test_code

    # when
    response = en_client.get(reverse("admin:plans_questionpaper_change", args=[paper.pk]))

    # then
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.queryset.count() == 3
