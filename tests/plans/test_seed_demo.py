"""`manage.py seed_demo` and plans.services.demo on real PostgreSQL."""

import csv
import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from plans.choices import AnswerType, ConnectionStatus, ExamStatus, ProgressStatus
from plans.models import (
    Examinee,
    ExamineeProgress,
    GroupProgress,
    Question,
    QuestionPaper,
    Supervisor,
    SupervisorProgress,
    TestGroup,
    TestPlan,
    TestProgress,
    TestStage,
)
from plans.services.access import examinee_authenticate

pytestmark = pytest.mark.django_db

User = get_user_model()


def seed(tmp_path, **options):
    """Run the command with a CSV in tmp_path; return (csv path, stdout)."""
    output = tmp_path / "demo-credentials.csv"
    stdout = StringIO()
    call_command("seed_demo", output=output, stdout=stdout, **options)
    return output, stdout.getvalue()


def csv_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def database_snapshot():
    """Everything seed_demo writes, in a comparable form."""
    return {
        "plans": list(TestPlan.objects.values_list("pk", flat=True)),
        "progress": list(TestProgress.objects.values_list("plan_id", "status_code")),
        "stages": list(TestStage.objects.values_list("pk", flat=True)),
        "papers": list(QuestionPaper.objects.values_list("pk", flat=True)),
        "questions": Question.objects.count(),
        "groups": list(GroupProgress.objects.order_by("pk").values_list("pk", "status_code", "assigned_examinee_cnt")),
        "examinees": list(Examinee.objects.order_by("pk").values_list("pk", "access_code_hash")),
        "supervisors": list(Supervisor.objects.order_by("pk").values_list("pk", "user_id")),
        "users": list(User.objects.order_by("username").values_list("username", "password")),
    }


def test_seed_demo_creates_exactly_the_requested_plan(tmp_path):
    """Counts, names, spread over groups, papers of both question types and progress rows match the options."""
    # given
    before = timezone.now()

    # when
    _, stdout = seed(tmp_path, groups=2, examinees=5, questions=4, stages=3)

    # then
    plan = TestPlan.objects.get()
    assert plan.pk == "DEMO"
    assert plan.start_datetime <= before < plan.end_datetime
    assert plan.end_datetime - plan.start_datetime == timedelta(hours=6)
    assert TestProgress.objects.get(plan=plan).status_code == ProgressStatus.IN_PROGRESS
    stages = list(TestStage.objects.filter(plan=plan).order_by("stage_order"))
    assert [s.stage_name for s in stages] == ["1교시 국어", "2교시 수학", "3교시 영어"]
    assert [s.test_code_id for s in stages] == ["DEMO-P1", "DEMO-P2", "DEMO-P3"]
    for stage in stages:
        questions = list(Question.objects.filter(paper_id=stage.test_code_id).order_by("question_no"))
        assert [q.question_no for q in questions] == [1, 2, 3, 4]
        assert [q.question_type for q in questions] == [AnswerType.MULTIPLE_CHOICE] * 3 + [AnswerType.SHORT_ANSWER]
        for question in questions[:3]:
            assert [choice["value"] for choice in question.choices] == ["1", "2", "3", "4", "5"]
            assert all(choice["label"] for choice in question.choices)
        assert questions[3].choices == []
        assert 1 <= questions[3].max_length <= 200
    assert list(TestGroup.objects.filter(plan=plan).order_by("pk").values_list("pk", "group_name")) == [
        ("DEMO-G001", "제1고사실"),
        ("DEMO-G002", "제2고사실"),
    ]
    assert list(
        GroupProgress.objects.order_by("pk").values_list(
            "pk",
            "status_code",
            "assigned_examinee_cnt",
            "connected_examinee_cnt",
            "submitted_examinee_cnt",
            "assigned_supervisor_cnt",
            "connected_supervisor_cnt",
        )
    ) == [
        ("DEMO-G001", ProgressStatus.IN_PROGRESS, 3, 0, 0, 1, 0),
        ("DEMO-G002", ProgressStatus.IN_PROGRESS, 2, 0, 0, 1, 0),
    ]
    assert list(Examinee.objects.order_by("pk").values_list("pk", "group_id")) == [
        ("DEMO-E00001", "DEMO-G001"),
        ("DEMO-E00002", "DEMO-G001"),
        ("DEMO-E00003", "DEMO-G001"),
        ("DEMO-E00004", "DEMO-G002"),
        ("DEMO-E00005", "DEMO-G002"),
    ]
    assert set(ExamineeProgress.objects.values_list("exam_status_code", "conn_status_code", "current_stage_id")) == {
        (ExamStatus.WAITING, ConnectionStatus.DISCONNECTED, "DEMO-ST1")
    }
    assert ExamineeProgress.objects.count() == 5
    assert list(Supervisor.objects.order_by("pk").values_list("pk", "group_id", "user__username")) == [
        ("DEMO-S001", "DEMO-G001", "DEMO-S001"),
        ("DEMO-S002", "DEMO-G002", "DEMO-S002"),
    ]
    assert SupervisorProgress.objects.count() == 2
    assert "수험자 5명" in stdout and "demo-credentials.csv" in stdout


def test_seed_demo_credentials_csv_signs_everyone_in(tmp_path):
    """Every CSV row is a working sign-in: access codes verify, supervisor and operator passwords authenticate."""
    # when
    output, _ = seed(tmp_path, groups=2, examinees=3, questions=2, stages=1)

    # then
    header, *rows = csv_rows(output)
    assert header == ["plan_id", "group_id", "role", "login_id", "access_code_or_password"]
    assert [(plan_id, group_id, role, login) for plan_id, group_id, role, login, _ in rows] == [
        ("DEMO", "DEMO-G001", "supervisor", "DEMO-S001"),
        ("DEMO", "DEMO-G002", "supervisor", "DEMO-S002"),
        ("DEMO", "DEMO-G001", "examinee", "DEMO-E00001"),
        ("DEMO", "DEMO-G001", "examinee", "DEMO-E00002"),
        ("DEMO", "DEMO-G002", "examinee", "DEMO-E00003"),
        ("DEMO", "", "operator", "admin"),
    ]
    for plan_id, group_id, role, login_id, secret in rows:
        if role == "examinee":
            examinee = examinee_authenticate(plan_id=plan_id, examinee_id=login_id, access_code=secret)
            assert (examinee.pk, examinee.group_id) == (login_id, group_id)
            assert secret not in examinee.access_code_hash
        else:
            user = authenticate(username=login_id, password=secret)
            assert user is not None and user.username == login_id
            assert user.password != secret
            if role == "supervisor":
                assert user.supervisor.group_id == group_id
                assert (user.is_staff, user.is_superuser) == (False, False)
            else:
                assert (user.is_staff, user.is_superuser) == (True, True)
    assert output.stat().st_mode & 0o777 == 0o600


def test_seed_demo_if_empty_does_nothing_the_second_time(tmp_path):
    """With --if-empty an existing plan is left alone: same rows, same codes, same CSV; the path is still printed."""
    # given
    output, _ = seed(tmp_path, groups=1, examinees=2, questions=2, stages=1)
    before = database_snapshot()
    csv_digest = hashlib.sha256(output.read_bytes()).hexdigest()

    # when
    _, stdout = seed(tmp_path, if_empty=True, groups=3, examinees=9)

    # then
    assert database_snapshot() == before
    assert hashlib.sha256(output.read_bytes()).hexdigest() == csv_digest
    assert "이미 있어 아무것도 만들지 않았습니다" in stdout
    assert str(output) in stdout


def test_seed_demo_if_empty_warns_when_the_existing_plan_has_ended(tmp_path):
    """--if-empty leaves an ended plan alone but says it has ended and how to get a fresh one."""
    # given
    seed(tmp_path, groups=1, examinees=2, questions=2, stages=1)
    TestPlan.objects.filter(pk="DEMO").update(
        start_datetime=timezone.now() - timedelta(days=2), end_datetime=timezone.now() - timedelta(days=1)
    )
    before = database_snapshot()

    # when
    _, stdout = seed(tmp_path, if_empty=True)

    # then
    assert database_snapshot() == before
    assert "계획 DEMO은(는)" in stdout and "끝났습니다" in stdout
    assert "seed_demo --force" in stdout


def test_seed_demo_if_empty_on_an_empty_database_seeds(tmp_path):
    """--if-empty creates the plan when there is none."""
    # when
    output, _ = seed(tmp_path, if_empty=True, groups=1, examinees=2, questions=2, stages=1)

    # then
    assert list(TestPlan.objects.values_list("pk", flat=True)) == ["DEMO"]
    assert len(csv_rows(output)) == 1 + 2 + 1 + 1


def test_seed_demo_refuses_an_existing_plan_without_force(tmp_path):
    """A second run without --if-empty or --force is refused with IMP-004 and changes nothing."""
    # given
    output, _ = seed(tmp_path, groups=1, examinees=2, questions=2, stages=1)
    before = database_snapshot()
    csv_digest = hashlib.sha256(output.read_bytes()).hexdigest()

    # when
    with pytest.raises(CommandError) as raised:
        seed(tmp_path, groups=1, examinees=2, questions=2, stages=1)

    # then
    assert str(raised.value).startswith("IMP-004 ")
    assert database_snapshot() == before
    assert hashlib.sha256(output.read_bytes()).hexdigest() == csv_digest


def test_seed_demo_force_replaces_the_plan(tmp_path):
    """--force deletes the old plan, its papers and supervisor accounts, and issues new credentials."""
    # given
    output, _ = seed(tmp_path, groups=3, examinees=6, questions=3, stages=2)
    old_rows = csv_rows(output)

    # when
    _, stdout = seed(tmp_path, force=True, groups=1, examinees=2, questions=2, stages=1)

    # then
    new_rows = csv_rows(output)
    assert len(new_rows) == 1 + 1 + 2 + 1
    assert list(TestStage.objects.values_list("pk", flat=True)) == ["DEMO-ST1"]
    assert list(QuestionPaper.objects.values_list("pk", flat=True)) == ["DEMO-P1"]
    assert Question.objects.count() == 2
    assert list(User.objects.order_by("username").values_list("username", flat=True)) == ["DEMO-S001", "admin"]
    assert Examinee.objects.count() == 2
    assert GroupProgress.objects.get().assigned_examinee_cnt == 2
    old_secrets = {row[3]: row[4] for row in old_rows[1:]}
    assert all(old_secrets[row[3]] != row[4] for row in new_rows[1:])
    assert authenticate(username="admin", password=old_secrets["admin"]) is None
    assert authenticate(username="admin", password=new_rows[-1][4]) is not None
    assert "기존 계획 DEMO을(를) 먼저 지웠습니다" in stdout


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"groups": 0}, "groups must be between 1 and 200 (got 0)"),
        ({"groups": 4, "examinees": 3}, "groups (4) must not outnumber examinees (3)"),
        ({"examinees": 0}, "examinees must be between 1 and 100000 (got 0)"),
        ({"questions": 1}, "questions per paper must be between 2 and 100 (got 1)"),
        ({"stages": 7}, "stages must be between 1 and 6 (got 7)"),
        ({"plan_id": "데모 시험"}, "plan ID must be 1-20 letters, digits, '-' or '_'"),
    ],
)
def test_seed_demo_refuses_bad_options(tmp_path, options, reason):
    """Impossible options are refused with IMP-003 and the reason; nothing is stored and no CSV is written."""
    # when
    with pytest.raises(CommandError) as raised:
        seed(tmp_path, **options)

    # then
    assert str(raised.value).startswith("IMP-003 ")
    assert reason in str(raised.value)
    assert TestPlan.objects.count() == 0
    assert QuestionPaper.objects.count() == 0
    assert User.objects.count() == 0
    assert not (tmp_path / "demo-credentials.csv").exists()


def test_seed_demo_failure_half_way_stores_nothing(tmp_path):
    """A clash found late (a supervisor user name already taken) rolls everything back and writes no CSV."""
    # given
    User.objects.create_user(username="DEMO-S002", password="unrelated-Pass-1")

    # when
    with pytest.raises(CommandError) as raised:
        seed(tmp_path, groups=2, examinees=4, questions=2, stages=1)

    # then
    assert str(raised.value).startswith("IMP-002 ")
    assert TestPlan.objects.count() == 0
    assert TestStage.objects.count() == 0
    assert QuestionPaper.objects.count() == 0
    assert Question.objects.count() == 0
    assert TestGroup.objects.count() == 0
    assert Examinee.objects.count() == 0
    assert list(User.objects.values_list("username", flat=True)) == ["DEMO-S002"]
    assert not (tmp_path / "demo-credentials.csv").exists()


def test_seed_demo_force_failure_keeps_the_old_plan(tmp_path):
    """When --force fails after deleting, the deletion is rolled back too: the old plan and CSV stay usable."""
    # given
    output, _ = seed(tmp_path, groups=1, examinees=2, questions=2, stages=1)
    User.objects.create_user(username="DEMO-S002", password="unrelated-Pass-1")
    before = database_snapshot()
    csv_digest = hashlib.sha256(output.read_bytes()).hexdigest()

    # when
    with pytest.raises(CommandError):
        seed(tmp_path, force=True, groups=2, examinees=4, questions=2, stages=1)

    # then
    assert database_snapshot() == before
    assert hashlib.sha256(output.read_bytes()).hexdigest() == csv_digest


def test_seed_demo_other_plan_id_and_large_group_spread(tmp_path):
    """--plan-id names every derived ID; 7 examinees over 3 groups spread 3, 2, 2."""
    # when
    seed(tmp_path, plan_id="MOCK_2026", groups=3, examinees=7, questions=2, stages=2)

    # then
    assert list(TestPlan.objects.values_list("pk", flat=True)) == ["MOCK_2026"]
    assert list(GroupProgress.objects.order_by("pk").values_list("pk", "assigned_examinee_cnt")) == [
        ("MOCK_2026-G001", 3),
        ("MOCK_2026-G002", 2),
        ("MOCK_2026-G003", 2),
    ]
    assert Examinee.objects.filter(plan_id="MOCK_2026").count() == 7


def test_seed_demo_default_papers_of_every_subject_have_distinct_questions(tmp_path):
    """At the default 10 questions, each of the six subjects' papers has 7 multiple-choice and 3 short-answer
    questions, none repeated."""
    # when
    seed(tmp_path, groups=1, examinees=1, questions=10, stages=6)

    # then
    assert list(TestStage.objects.order_by("stage_order").values_list("stage_name", "time_limit")) == [
        ("1교시 국어", 1800),
        ("2교시 수학", 1800),
        ("3교시 영어", 1500),
        ("4교시 한국사", 1200),
        ("5교시 통합사회", 1200),
        ("6교시 통합과학", 1200),
    ]
    for paper in QuestionPaper.objects.all():
        questions = list(Question.objects.filter(paper=paper).order_by("question_no"))
        assert [q.question_type for q in questions] == [AnswerType.MULTIPLE_CHOICE] * 7 + [AnswerType.SHORT_ANSWER] * 3
        assert len({q.body for q in questions}) == 10
        assert all(len({choice["label"] for choice in q.choices}) == 5 for q in questions[:7])
