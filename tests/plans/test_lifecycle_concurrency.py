"""Concurrent sweeps share the work (SKIP LOCKED) instead of doing it twice, and the on-demand check
settles one examinee's group without beat."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from plans.choices import TransitionAction
from plans.models import ExamineeProgress, StatusTransition
from plans.services.lifecycle import examinee_deadlines_enforce, plan_start, stage_deadlines_enforce
from tests.plans import factories


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_move_every_examinee_exactly_once(plan, stage, group, make_examinees):
    """Two sweeps started together move 600 examinees once between them: one audit row each."""
    # given
    second = factories.TestStageFactory(plan=plan, stage_order=2, time_limit=1800)
    make_examinees(600)
    t0 = timezone.now() - timedelta(hours=2)
    plan_start(plan=plan, actor="operator1", now=t0)
    due = t0 + timedelta(seconds=stage.time_limit)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(stage_deadlines_enforce(now=due, batch_size=50))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then
    assert errors == []
    assert sum(results) == 600
    assert set(ExamineeProgress.objects.values_list("current_stage_id", flat=True)) == {second.pk}
    assert set(ExamineeProgress.objects.values_list("stage_started_at", flat=True)) == {due}
    assert StatusTransition.objects.filter(action=TransitionAction.STAGE_MOVE).count() == 600


def test_on_demand_check_moves_the_examinees_group_only_when_due(plan, stage, group, make_examinees):
    """Before the deadline the check does nothing; after it, the examinee's whole group moves."""
    # given
    second = factories.TestStageFactory(plan=plan, stage_order=2, time_limit=1800)
    other_group = factories.TestGroupFactory(plan=plan)
    mine, neighbour = make_examinees(2)
    (elsewhere,) = make_examinees(1, target_group=other_group, prefix="OTH")
    t0 = timezone.now() - timedelta(hours=2)
    plan_start(plan=plan, actor="operator1", now=t0)
    deadline = t0 + timedelta(seconds=stage.time_limit)
    # when
    early = examinee_deadlines_enforce(examinee_id=mine.pk, now=deadline - timedelta(seconds=1))
    due = examinee_deadlines_enforce(examinee_id=mine.pk, now=deadline)
    # then
    assert (early, due) == (0, 2)
    assert dict(ExamineeProgress.objects.values_list("pk", "current_stage_id")) == {
        mine.pk: second.pk,
        neighbour.pk: second.pk,
        elsewhere.pk: stage.pk,
    }
