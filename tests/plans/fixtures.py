"""Fixtures of the plans app: a plan with one stage and paper, a group, and people made by the services."""

import pytest

from plans.services.roster import PersonRow, examinees_bulk_create, supervisors_bulk_create
from tests.plans.factories import QuestionFactory, TestGroupFactory, TestPlanFactory, TestStageFactory


@pytest.fixture
def plan(db):
    return TestPlanFactory()


@pytest.fixture
def stage(plan):
    stage = TestStageFactory(plan=plan, stage_order=1)
    QuestionFactory.create_batch(3, paper=stage.test_code)
    return stage


@pytest.fixture
def group(plan, stage):
    return TestGroupFactory(plan=plan)


@pytest.fixture
def make_examinees(group):
    """Create `count` examinees in `group` (default: the fixture group) through the roster service."""

    def make(count: int = 1, target_group=None, prefix: str = "EX"):
        target = target_group or group
        rows = [PersonRow(person_id=f"{prefix}{i:05d}", group_id=target.pk, name=f"수험자{i}") for i in range(count)]
        return examinees_bulk_create(rows=rows)

    return make


@pytest.fixture
def examinee(make_examinees):
    return make_examinees(1)[0]


@pytest.fixture
def another_examinee(make_examinees, examinee):
    """A second examinee of the fixture group (made before the exam opens, so begun with it)."""
    return make_examinees(1, prefix="EY")[0]


@pytest.fixture
def supervisor(group):
    rows = [PersonRow(person_id="SUP00001", group_id=group.pk, name="감독관1", password="s3cret-Pass!")]
    return supervisors_bulk_create(rows=rows)[0]
