"""The examinee and supervisor admins: fast lists, adds and deletes through the services, one-time credentials."""

import csv
import io

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.urls import reverse

from plans.models import Examinee, ExamineeProgress, GroupProgress, Supervisor, SupervisorProgress
from plans.services.access import access_code_matches
from tests.plans import factories

EXAMINEE_CHANGELIST = "admin:plans_examinee_changelist"
SUPERVISOR_CHANGELIST = "admin:plans_supervisor_changelist"
# Session, user, the two filters' choices (plans, groups), one count, one page of rows joined.
CHANGELIST_QUERY_BUDGET = 6


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


def _counters(group) -> tuple[int, int]:
    progress = GroupProgress.objects.get(pk=group.pk)
    return progress.assigned_examinee_cnt, progress.assigned_supervisor_cnt


def _csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"].startswith("no-store, private")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_examinee_changelist_of_300_stays_within_query_budget(
    en_client, make_examinees, group, django_assert_max_num_queries
):
    """A page of the examinee list costs a fixed number of queries, however many examinees there are."""
    # given
    make_examinees(300)

    # when
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = en_client.get(reverse(EXAMINEE_CHANGELIST))

    # then
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100
    assert response.context["cl"].result_count == 300


def test_examinee_changelist_filtered_and_searched_stays_within_query_budget(
    en_client, make_examinees, group, plan, django_assert_max_num_queries
):
    """Filtering by plan, group and access code and searching a name keeps the same budget."""
    # given
    make_examinees(300)
    other_group = factories.TestGroupFactory(plan=plan)
    make_examinees(5, target_group=other_group, prefix="OT")
    query = f"?plan={plan.pk}&group={other_group.pk}&access_code=no&q=수험자"

    # when
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = en_client.get(reverse(EXAMINEE_CHANGELIST) + query)

    # then
    assert [e.pk for e in response.context["cl"].result_list] == [f"OT0000{i}" for i in range(5)]


def test_examinee_list_settings_keep_large_lists_fast(en_client, make_examinees):
    """No full count, 100 a page, and every joined column selected with the page."""
    # given
    from plans.admin import ExamineeAdmin

    # when
    response = en_client.get(reverse(EXAMINEE_CHANGELIST))

    # then
    assert response.status_code == 200
    assert ExamineeAdmin.show_full_result_count is False
    assert ExamineeAdmin.list_per_page == 100
    assert set(ExamineeAdmin.list_select_related) == {"plan", "group", "progress"}


def test_examinee_add_goes_through_the_roster_service(en_client, group, stage):
    """Adding one examinee in the admin creates the progress row and moves the group's counter."""
    # given
    url = reverse("admin:plans_examinee_add")

    # when
    response = en_client.post(url, {"examinee_id": "E900", "group": group.pk, "examinee_name": " 김하늘 "})

    # then
    assert response.status_code == 302
    examinee = Examinee.objects.get(pk="E900")
    assert (examinee.plan_id, examinee.group_id, examinee.examinee_name) == (group.plan_id, group.pk, "김하늘")
    progress = ExamineeProgress.objects.get(pk="E900")
    assert (progress.exam_status_code, progress.current_stage_id) == ("WAITING", stage.pk)
    assert _counters(group) == (1, 0)
    assert LogEntry.objects.filter(object_id="E900", action_flag=1).count() == 1


def test_examinee_add_refuses_existing_id_and_plan_without_stage(en_client, examinee, group):
    """A taken ID or a group whose plan has no stage is a form error, and nothing is written."""
    # given
    stageless_group = factories.TestGroupFactory()
    url = reverse("admin:plans_examinee_add")

    # when
    taken = en_client.post(url, {"examinee_id": examinee.pk, "group": group.pk, "examinee_name": "새 이름"})
    stageless = en_client.post(url, {"examinee_id": "E901", "group": stageless_group.pk, "examinee_name": "김"})

    # then
    assert taken.status_code == 200
    assert taken.context["adminform"].form.errors == {"examinee_id": ["Examinee with this Examinee ID already exists."]}
    assert stageless.context["adminform"].form.errors == {
        "group": [f"Plan {stageless_group.plan_id} has no stage yet; add its stages first."]
    }
    assert list(Examinee.objects.values_list("pk", "examinee_name")) == [(examinee.pk, "수험자0")]
    assert _counters(group) == (1, 0)


def test_examinee_change_edits_the_name_only(en_client, examinee, group, plan):
    """The change form edits the name; ID and group are read-only (a move would orphan progress and answers)."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    url = reverse("admin:plans_examinee_change", args=[examinee.pk])

    # when
    response = en_client.post(url, {"examinee_id": "HACKED", "group": other_group.pk, "examinee_name": "새 이름"})

    # then
    assert response.status_code == 302
    assert list(Examinee.objects.values_list("pk", "group_id", "examinee_name")) == [(examinee.pk, group.pk, "새 이름")]


def test_examinee_delete_recounts_the_group(en_client, make_examinees, group):
    """Deleting one examinee on its page lowers the group's assigned counter in the same transaction."""
    # given
    first, _second = make_examinees(2)

    # when
    response = en_client.post(reverse("admin:plans_examinee_delete", args=[first.pk]), {"post": "yes"})

    # then
    assert response.status_code == 302
    assert list(Examinee.objects.values_list("pk", flat=True)) == ["EX00001"]
    assert ExamineeProgress.objects.count() == 1
    assert _counters(group) == (1, 0)


def test_examinee_bulk_delete_shows_counts_and_recounts(en_client, make_examinees, group, plan):
    """Delete-selected shows a summary with counts (not a tree of every row) and recounts every group touched."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    make_examinees(3)
    make_examinees(2, target_group=other_group, prefix="OT")
    selected = ["EX00000", "EX00001", "OT00000"]
    data = {"action": "delete_selected", "_selected_action": selected}

    # when
    confirm = en_client.post(reverse(EXAMINEE_CHANGELIST), data)
    done = en_client.post(reverse(EXAMINEE_CHANGELIST), {**data, "post": "yes"})

    # then
    assert confirm.status_code == 200
    assert list(confirm.context["model_count"]) == [("examinees", 3), ("examinee progress", 3)]
    assert confirm.context["perms_lacking"] == set()
    assert done.status_code == 302
    assert sorted(Examinee.objects.values_list("pk", flat=True)) == ["EX00002", "OT00001"]
    assert _counters(group) == (1, 0)
    assert _counters(other_group) == (1, 0)


def test_issue_access_codes_confirms_then_downloads_codes_stored_only_as_hash(en_client, make_examinees, group):
    """The action first says the download is the only copy; confirmed, it returns codes that verify, and the
    database keeps only their hash."""
    # given
    examinees = make_examinees(3)
    selected = [examinees[0].pk, examinees[2].pk]
    data = {"action": "issue_access_codes", "_selected_action": selected}

    # when
    confirm = en_client.post(reverse(EXAMINEE_CHANGELIST), data)
    assert Examinee.objects.exclude(access_code_hash="").count() == 0
    download = en_client.post(reverse(EXAMINEE_CHANGELIST), {**data, "confirm": "yes"})

    # then
    assert confirm.status_code == 200
    assert "this download is the only time they exist in clear" in confirm.content.decode()
    rows = _csv(download)
    assert [list(row) for row in rows[:1]] == [["plan_id", "group_id", "examinee_id", "examinee_name", "access_code"]]
    assert [(r["plan_id"], r["group_id"], r["examinee_id"], r["examinee_name"]) for r in rows] == [
        (group.plan_id, group.pk, "EX00000", "수험자0"),
        (group.plan_id, group.pk, "EX00002", "수험자2"),
    ]
    for row in rows:
        stored = Examinee.objects.get(pk=row["examinee_id"])
        assert access_code_matches(examinee=stored, code=row["access_code"])
        assert len(stored.access_code_hash) == 64
        stored_values = [str(value) for value in Examinee.objects.filter(pk=stored.pk).values().get().values()]
        assert all(row["access_code"] not in value for value in stored_values)
    assert Examinee.objects.get(pk="EX00001").access_code_hash == ""
    assert LogEntry.objects.filter(action_flag=2, change_message="Issued a new access code.").count() == 2


def test_reissuing_access_codes_replaces_the_old_code(en_client, examinee):
    """Issuing again replaces the code: the first download's code stops working."""
    # given
    data = {"action": "issue_access_codes", "_selected_action": [examinee.pk], "confirm": "yes"}
    first_code = _csv(en_client.post(reverse(EXAMINEE_CHANGELIST), data))[0]["access_code"]

    # when
    confirm = en_client.post(reverse(EXAMINEE_CHANGELIST), {k: v for k, v in data.items() if k != "confirm"})
    second_code = _csv(en_client.post(reverse(EXAMINEE_CHANGELIST), data))[0]["access_code"]

    # then
    assert "1 selected examinee already has a code; it will be replaced." in confirm.content.decode()
    examinee.refresh_from_db()
    assert first_code != second_code
    assert not access_code_matches(examinee=examinee, code=first_code)
    assert access_code_matches(examinee=examinee, code=second_code)


def test_issue_access_codes_for_all_filtered_examinees(en_client, make_examinees, group, plan):
    """ "Select all" over a filtered list issues codes to exactly the filtered examinees."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    make_examinees(2)
    make_examinees(2, target_group=other_group, prefix="OT")
    url = reverse(EXAMINEE_CHANGELIST) + f"?group={other_group.pk}"
    data = {"action": "issue_access_codes", "_selected_action": ["OT00000"], "select_across": "1", "confirm": "yes"}

    # when
    response = en_client.post(url, data)

    # then
    assert [row["examinee_id"] for row in _csv(response)] == ["OT00000", "OT00001"]
    assert sorted(Examinee.objects.exclude(access_code_hash="").values_list("pk", flat=True)) == [
        "OT00000",
        "OT00001",
    ]


def test_supervisor_add_creates_user_progress_and_counter(en_client, group):
    """Adding a supervisor creates the sign-in user (username = ID) with the password, progress and counter."""
    # given
    url = reverse("admin:plans_supervisor_add")

    # when
    response = en_client.post(
        url, {"supervisor_id": "S900", "group": group.pk, "supervisor_name": "감독관", "password": "Vr7!kq2-Lm"}
    )

    # then
    assert response.status_code == 302
    supervisor = Supervisor.objects.select_related("user").get(pk="S900")
    assert (supervisor.user.username, supervisor.user.check_password("Vr7!kq2-Lm")) == ("S900", True)
    assert SupervisorProgress.objects.filter(pk="S900").count() == 1
    assert _counters(group) == (0, 1)


def test_supervisor_add_refuses_weak_password(en_client, group):
    """A weak password is a form error and nothing is written."""
    # given
    users_before = get_user_model().objects.count()

    # when
    response = en_client.post(
        reverse("admin:plans_supervisor_add"),
        {"supervisor_id": "S900", "group": group.pk, "supervisor_name": "감독관", "password": "1234"},
    )

    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["password"]
    assert Supervisor.objects.count() == 0
    assert get_user_model().objects.count() == users_before
    assert _counters(group) == (0, 0)


def test_reset_passwords_downloads_new_passwords_once(en_client, supervisor, group):
    """The password action replaces the password; the CSV's password signs in, the old one no longer does."""
    # given
    data = {"action": "reset_passwords", "_selected_action": [supervisor.pk]}

    # when
    confirm = en_client.post(reverse(SUPERVISOR_CHANGELIST), data)
    download = en_client.post(reverse(SUPERVISOR_CHANGELIST), {**data, "confirm": "yes"})

    # then
    assert "this download is the only time they exist in clear" in confirm.content.decode()
    rows = _csv(download)
    assert [(r["plan_id"], r["group_id"], r["supervisor_id"], r["username"]) for r in rows] == [
        (group.plan_id, group.pk, "SUP00001", "SUP00001")
    ]
    supervisor.user.refresh_from_db()
    assert supervisor.user.check_password(rows[0]["password"])
    assert not supervisor.user.check_password("s3cret-Pass!")
    assert rows[0]["password"] not in supervisor.user.password


def test_reset_passwords_refuses_a_staff_account(en_client, supervisor):
    """A supervisor linked to a staff account is refused with AUT-005 and no password changes."""
    # given
    supervisor.user.is_staff = True
    supervisor.user.save()
    password_hash = supervisor.user.password
    data = {"action": "reset_passwords", "_selected_action": [supervisor.pk], "confirm": "yes"}

    # when
    response = en_client.post(reverse(SUPERVISOR_CHANGELIST), data, follow=True)

    # then
    assert response.status_code == 200
    assert "AUT-005" in response.content.decode()
    supervisor.user.refresh_from_db()
    assert supervisor.user.password == password_hash


def test_supervisor_delete_removes_sign_in_user_and_recounts(en_client, supervisor, group):
    """Deleting a supervisor removes their sign-in user (so the ID can be imported again) and recounts."""
    # given
    user_pk = supervisor.user.pk

    # when
    response = en_client.post(reverse("admin:plans_supervisor_delete", args=[supervisor.pk]), {"post": "yes"})

    # then
    assert response.status_code == 302
    assert Supervisor.objects.count() == 0
    assert SupervisorProgress.objects.count() == 0
    assert not get_user_model().objects.filter(pk=user_pk).exists()
    assert _counters(group) == (0, 0)


def test_supervisor_changelist_stays_within_query_budget(en_client, group, django_assert_max_num_queries):
    """The supervisor list joins user and progress with the page."""
    # given
    from plans.services.roster import PersonRow, supervisors_bulk_create

    supervisors_bulk_create(rows=[PersonRow(person_id=f"S{i:03d}", group_id=group.pk, name="감독") for i in range(50)])

    # when
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = en_client.get(reverse(SUPERVISOR_CHANGELIST))

    # then
    assert len(response.context["cl"].result_list) == 50


def test_access_code_confirmation_is_korean_by_default(admin_client, examinee):
    """Without a language choice the operator reads the confirmation in Korean; nothing is issued yet."""
    # given
    data = {"action": "issue_access_codes", "_selected_action": [examinee.pk]}

    # when
    response = admin_client.post(reverse(EXAMINEE_CHANGELIST), data)

    # then
    html = response.content.decode()
    assert "이 내려받기가 코드를 평문으로 볼 수 있는 유일한 기회입니다." in html
    assert "예, CSV를 내려받습니다" in html
    examinee.refresh_from_db()
    assert examinee.access_code_hash == ""


def test_examinee_list_is_korean_by_default_and_english_on_request(admin_client, examinee):
    """Column titles and filters follow the operator's language: Korean by default, English when asked."""
    # given
    url = reverse(EXAMINEE_CHANGELIST)

    # when
    korean = admin_client.get(url).content.decode()
    english = admin_client.get(url, headers={"accept-language": "en"}).content.decode()

    # then
    assert "접속 코드" in korean and "응시 상태" in korean and "CSV 가져오기" in korean
    assert "Access code" in english and "Exam status" in english and "Import CSV" in english
