"""CSV import and export of examinees and supervisors in the admin (real PostgreSQL, superuser client)."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from plans.models import Examinee, ExamineeProgress, GroupProgress, Supervisor, SupervisorProgress
from plans.services.roster import group_progress_recount
from tests.plans import factories

EXAMINEE_IMPORT_URL = "admin:plans_examinee_import_csv"
SUPERVISOR_IMPORT_URL = "admin:plans_supervisor_import_csv"
EXAMINEE_HEADER = "examinee_id,group_id,plan_id,examinee_name"
SUPERVISOR_HEADER = "supervisor_id,group_id,plan_id,supervisor_name,password"


@pytest.fixture
def en_client(admin_client):
    """The superuser's client, asking for English so that messages can be asserted word for word."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


def _upload(client, url_name: str, content: bytes | str, *, check_only: bool = False, name: str = "roster.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    payload = {"csv_file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if check_only:
        payload["check_only"] = "on"
    return client.post(reverse(url_name), payload)


def _roster_state() -> dict:
    """Everything an import may write, to assert that a refused import wrote nothing."""
    return {
        "examinees": Examinee.objects.count(),
        "examinee_progress": ExamineeProgress.objects.count(),
        "supervisors": Supervisor.objects.count(),
        "supervisor_progress": SupervisorProgress.objects.count(),
        "users": get_user_model().objects.count(),
        "counters": list(
            GroupProgress.objects.order_by("pk").values_list("pk", "assigned_examinee_cnt", "assigned_supervisor_cnt")
        ),
    }


def _problems(response) -> list[tuple[str, str, str]]:
    """The (line, column, problem) rows of the import page's problem table."""
    html = response.content.decode()
    start = html.index('<table id="import-problems">')
    body = html[start : html.index("</table>", start)]
    rows = []
    for chunk in body.split("<tr>")[2:]:
        cells = [cell.split("</td>")[0] for cell in chunk.split("<td>")[1:]]
        rows.append(tuple(cells))
    return rows


def test_examinee_import_creates_rows_progress_and_counters(en_client, plan, stage, group):
    """A good file creates every examinee with a WAITING progress row in the first stage and the counters."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    content = "\n".join(
        [
            EXAMINEE_HEADER,
            f"E001,{group.pk},{plan.pk},김민준",
            f"E002,{group.pk},{plan.pk},이서연",
            f"E003,{other_group.pk},{plan.pk},박지호",
        ]
    )

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:plans_examinee_changelist")
    assert list(Examinee.objects.order_by("pk").values_list("pk", "group_id", "plan_id", "examinee_name")) == [
        ("E001", group.pk, plan.pk, "김민준"),
        ("E002", group.pk, plan.pk, "이서연"),
        ("E003", other_group.pk, plan.pk, "박지호"),
    ]
    assert list(
        ExamineeProgress.objects.order_by("pk").values_list(
            "pk", "group_id", "exam_status_code", "conn_status_code", "current_stage_id"
        )
    ) == [
        ("E001", group.pk, "WAITING", "DISCONNECTED", stage.pk),
        ("E002", group.pk, "WAITING", "DISCONNECTED", stage.pk),
        ("E003", other_group.pk, "WAITING", "DISCONNECTED", stage.pk),
    ]
    assert GroupProgress.objects.get(pk=group.pk).assigned_examinee_cnt == 2
    assert GroupProgress.objects.get(pk=other_group.pk).assigned_examinee_cnt == 1
    assert Examinee.objects.filter(access_code_hash="").count() == 3
    page = en_client.get(response["Location"])
    assert "Imported 3 examinees into 2 group(s)." in page.content.decode()


def test_examinee_import_accepts_excel_utf8_bom_crlf_and_any_column_order(en_client, plan, stage, group):
    """Korean Excel's "CSV UTF-8" (BOM, CRLF, trailing empty rows) imports; header case and order are free."""
    # given
    content = (
        f"\ufeffEXAMINEE_NAME,Plan_ID,group_id,examinee_id\r\n 최유진 ,{plan.pk},{group.pk},E100\r\n,,,\r\n\r\n"
    ).encode()

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    assert response.status_code == 302
    assert list(Examinee.objects.values_list("pk", "examinee_name")) == [("E100", "최유진")]
    assert GroupProgress.objects.get(pk=group.pk).assigned_examinee_cnt == 1


def test_examinee_import_check_only_imports_nothing(en_client, plan, stage, group):
    """ "Check only" validates the whole file and says how many rows would be imported, writing nothing."""
    # given
    before = _roster_state()
    content = f"{EXAMINEE_HEADER}\nE001,{group.pk},{plan.pk},김민준\nE002,{group.pk},{plan.pk},이서연\n"

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content, check_only=True)

    # then
    assert response.status_code == 200
    assert "The file is valid: 2 rows would be imported. Nothing was imported." in response.content.decode()
    assert _roster_state() == before


def test_examinee_import_one_bad_row_among_good_ones_imports_nothing(en_client, plan, stage, group, make_examinees):
    """Every bad line is listed with its line number and column, and none of the good lines is imported."""
    # given
    make_examinees(1, prefix="OLD")  # takes ID OLD00000
    other_plan = factories.TestPlanFactory()
    factories.TestStageFactory(plan=other_plan)
    foreign_group = factories.TestGroupFactory(plan=other_plan)
    before = _roster_state()
    long_name = "가" * 101
    content = "\n".join(
        [
            EXAMINEE_HEADER,
            f"E001,{group.pk},{plan.pk},김민준",  # 2: good
            f"E002,{group.pk},{plan.pk},{long_name}",  # 3: name too long
            f"E001,{group.pk},{plan.pk},이서연",  # 4: repeats line 2
            f"E004,NOPE,{plan.pk},박지호",  # 5: unknown group
            f"E005,{foreign_group.pk},{plan.pk},정하은",  # 6: group of another plan
            f"OLD00000,{group.pk},{plan.pk},강도윤",  # 7: exists already
            f",{group.pk},{plan.pk},윤서아",  # 8: ID missing
            f"E 009,{group.pk},{plan.pk},=SUM(A1)",  # 9: space in ID, formula name
            f"{'X' * 51},{group.pk},{plan.pk},임지민",  # 10: ID too long
            f"E011,{group.pk},{plan.pk},한예린",  # 11: good
        ]
    )

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "IMP-002" in html
    assert "Some rows are not valid; nothing was imported." in html
    assert "8 lines are not valid:" in html
    assert _problems(response) == [
        ("3", "examinee_name", "examinee_name is longer than 100 characters (101)."),
        ("4", "examinee_id", "examinee_id E001 repeats line 2."),
        ("5", "group_id", "Group NOPE does not exist."),
        ("6", "plan_id", f"Group {foreign_group.pk} belongs to plan {other_plan.pk}, not {plan.pk}."),
        ("7", "examinee_id", "examinee_id OLD00000 already exists."),
        ("8", "examinee_id", "examinee_id is required."),
        ("9", "examinee_id", "examinee_id must not contain spaces."),
        (
            "9",
            "examinee_name",
            "examinee_name must not start with =, +, - or @ (a spreadsheet would run it as a formula).",
        ),
        ("10", "examinee_id", "examinee_id is longer than 50 characters (51)."),
    ]
    assert _roster_state() == before


def test_examinee_import_refuses_plan_without_stage(en_client, group):
    """An examinee starts in the plan's first stage: a plan without stages refuses the line."""
    # given
    plan = factories.TestPlanFactory()
    stageless_group = factories.TestGroupFactory(plan=plan)
    before = _roster_state()

    # when
    response = _upload(
        en_client, EXAMINEE_IMPORT_URL, f"{EXAMINEE_HEADER}\nE001,{stageless_group.pk},{plan.pk},김민준\n"
    )

    # then
    assert _problems(response) == [("2", "plan_id", f"Plan {plan.pk} has no stage yet; add its stages first.")]
    assert _roster_state() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "id,group,plan,name\nE001,G,P,김민준\n",
            "Line 1 (header) must name the columns examinee_id, group_id, plan_id, examinee_name "
            "(missing: examinee_id, group_id, plan_id, examinee_name; unknown: id, group, plan, name).",
            id="bad-header",
        ),
        pytest.param(
            "examinee_id,group_id,plan_id,examinee_name,examinee_id\nE001,G,P,김민준,E001\n",
            "Line 1 (header) must name the columns examinee_id, group_id, plan_id, examinee_name "
            "(repeated: examinee_id).",
            id="repeated-column",
        ),
        pytest.param("E001;G;P;김민준\n", "Line 1 (header) must name the columns", id="semicolons"),
        pytest.param(
            f"{EXAMINEE_HEADER}\n".encode() + "E001,G,P,김민준\n".encode("cp949"),
            "The file is not UTF-8: it looks like Korean ANSI (CP949/EUC-KR)",
            id="cp949",
        ),
        pytest.param(
            b"\xff\xfe\x00\x01\x80\x81\xfe", "The file is not UTF-8 text (invalid byte at position 0).", id="binary"
        ),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00", "This is an Excel workbook, not a CSV file.", id="xlsx"),
        pytest.param(b"examinee_id\x00group_id", "The file contains NUL bytes: it is not a CSV text file.", id="nul"),
        pytest.param(b"", "The file is empty.", id="empty"),
        pytest.param(f"{EXAMINEE_HEADER}\n", "The file has a header but no rows.", id="header-only"),
        pytest.param(
            f'{EXAMINEE_HEADER}\nE001,G,P,"김민준"x\n',
            "Line 2 is not valid CSV (',' expected after '\"').",
            id="bad-quoting",
        ),
    ],
)
def test_examinee_import_refuses_malformed_file(en_client, plan, stage, group, content, expected):
    """A file that is not a roster CSV is refused as a whole with IMP-001 and a reason; nothing is imported."""
    # given
    before = _roster_state()

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "IMP-001" in html
    assert "The file is not in the expected format; nothing was imported." in html
    assert expected in html.replace("&#x27;", "'").replace("&quot;", '"')
    assert _roster_state() == before


def test_examinee_import_line_with_extra_values_is_named(en_client, plan, stage, group):
    """A line with more values than the header is reported with its number (a comma inside a name)."""
    # given
    before = _roster_state()
    content = f"{EXAMINEE_HEADER}\nE001,{group.pk},{plan.pk},김,민준\n"

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    assert _problems(response) == [("2", "-", "The line has 5 values but the header has 4 columns.")]
    assert _roster_state() == before


def test_examinee_import_messages_are_korean_by_default(admin_client, plan, stage, group):
    """Without a language choice the operator reads Korean: the code's wording and the line's problem."""
    # given
    before = _roster_state()
    content = f"{EXAMINEE_HEADER}\nE001,NOPE,{plan.pk},김민준\n"

    # when
    response = _upload(admin_client, EXAMINEE_IMPORT_URL, content)

    # then
    html = response.content.decode()
    assert "잘못된 행이 있어 아무것도 가져오지 않았습니다." in html
    assert _problems(response) == [("2", "group_id", "그룹 NOPE이(가) 없습니다.")]
    assert _roster_state() == before


def test_supervisor_import_creates_users_progress_and_counters(en_client, plan, stage, group):
    """Supervisors get a sign-in user named by their ID (password optional), progress rows and the counter."""
    # given
    content = "\n".join(
        [
            SUPERVISOR_HEADER,
            f"S001,{group.pk},{plan.pk},감독관일,Vr7!kq2-Lm",
            f"S002,{group.pk},{plan.pk},감독관이,",
        ]
    )

    # when
    response = _upload(en_client, SUPERVISOR_IMPORT_URL, content)

    # then
    assert response.status_code == 302
    first, second = Supervisor.objects.order_by("pk").select_related("user")
    assert (first.pk, first.user.username, first.user.check_password("Vr7!kq2-Lm")) == ("S001", "S001", True)
    assert (second.pk, second.user.username, second.user.has_usable_password()) == ("S002", "S002", False)
    assert not first.user.is_staff and not second.user.is_staff
    assert SupervisorProgress.objects.filter(group_id=group.pk, conn_status_code="DISCONNECTED").count() == 2
    assert GroupProgress.objects.get(pk=group.pk).assigned_supervisor_cnt == 2


def test_supervisor_import_refuses_weak_password_taken_username_and_bad_id(en_client, admin_user, plan, stage, group):
    """Weak passwords, a user name already taken and an ID that cannot be a user name are listed; nothing is written."""
    # given
    before = _roster_state()
    content = "\n".join(
        [
            SUPERVISOR_HEADER,
            f"S001,{group.pk},{plan.pk},감독관일,123",  # 2: weak password
            f"{admin_user.username},{group.pk},{plan.pk},감독관이,",  # 3: user name taken
            f"S#03,{group.pk},{plan.pk},감독관삼,",  # 4: not a valid user name
            f"S004,{group.pk},{plan.pk},감독관사,",  # 5: good
        ]
    )

    # when
    response = _upload(en_client, SUPERVISOR_IMPORT_URL, content)

    # then
    problems = _problems(response)
    assert [problem[:2] for problem in problems] == [("2", "password"), ("3", "supervisor_id"), ("4", "supervisor_id")]
    assert problems[0][2].startswith("password: This password is too short.")
    assert problems[1][2] == (
        f"A user account named {admin_user.username} already exists (a supervisor signs in with this name)."
    )
    assert problems[2][2] == "supervisor_id may contain only letters, digits and @ . + - _ (it is the sign-in name)."
    assert _roster_state() == before


def test_import_page_requires_add_permission(client, django_user_model, plan, stage, group):
    """A staff user who may only view examinees cannot import (403) and nothing is written."""
    # given
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_examinee"))
    client.force_login(viewer)
    before = _roster_state()

    # when
    response = _upload(client, EXAMINEE_IMPORT_URL, f"{EXAMINEE_HEADER}\nE001,{group.pk},{plan.pk},김민준\n")

    # then
    assert response.status_code == 403
    assert _roster_state() == before


def _csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content.startswith("\ufeff".encode())  # UTF-8 BOM for Korean Excel
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_examinee_export_has_import_columns_and_no_hash(en_client, make_examinees, group):
    """Export writes exactly the import's columns for the filtered list; never the access-code hash."""
    # given
    from plans.services.access import examinee_access_codes_issue

    examinees = make_examinees(2)
    examinee_access_codes_issue(examinee_ids=[examinees[0].pk])
    stored_hash = Examinee.objects.get(pk=examinees[0].pk).access_code_hash

    # when
    response = en_client.get(reverse("admin:plans_examinee_export") + f"?group={group.pk}")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert _csv_rows(response) == [
        ["examinee_id", "group_id", "plan_id", "examinee_name"],
        [examinees[0].pk, group.pk, group.plan_id, "수험자0"],
        [examinees[1].pk, group.pk, group.plan_id, "수험자1"],
    ]
    assert stored_hash and stored_hash not in response.content.decode("utf-8-sig")


def test_supervisor_export_has_import_columns_and_no_password(en_client, supervisor, group):
    """Supervisor export: ID, group, plan, name; no password hash."""
    # given
    password_hash = supervisor.user.password

    # when
    response = en_client.get(reverse("admin:plans_supervisor_export"))

    # then
    assert _csv_rows(response) == [
        ["supervisor_id", "group_id", "plan_id", "supervisor_name"],
        ["SUP00001", group.pk, group.plan_id, "감독관1"],
    ]
    assert password_hash not in response.content.decode("utf-8-sig")


def test_export_then_import_round_trips(en_client, make_examinees, group):
    """An exported file imports again unchanged once the examinees are gone (same columns, same encoding)."""
    # given
    make_examinees(3)
    exported = en_client.get(reverse("admin:plans_examinee_export")).content
    Examinee.objects.all().delete()
    group_progress_recount(group_ids=[group.pk])

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, exported)

    # then
    assert response.status_code == 302
    assert list(Examinee.objects.order_by("pk").values_list("pk", "examinee_name")) == [
        ("EX00000", "수험자0"),
        ("EX00001", "수험자1"),
        ("EX00002", "수험자2"),
    ]
    assert GroupProgress.objects.get(pk=group.pk).assigned_examinee_cnt == 3


def test_examinee_import_refuses_oversized_file_unread(en_client, plan, stage, group, monkeypatch):
    """An upload over the size limit is refused with IMP-001 before it is parsed; nothing is imported."""
    # given
    monkeypatch.setattr("plans.resources.ROSTER_FILE_MAX_BYTES", 2 * 2**20)
    before = _roster_state()
    row = f"E001,{group.pk},{plan.pk},김민준\n"
    content = EXAMINEE_HEADER + "\n" + row * (2 * 2**20 // len(row.encode()) + 1)

    # when
    response = _upload(en_client, EXAMINEE_IMPORT_URL, content)

    # then
    html = response.content.decode()
    assert "IMP-001" in html
    assert "The file is larger than 2 MB." in html
    assert _roster_state() == before
