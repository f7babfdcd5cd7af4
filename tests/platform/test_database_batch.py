"""exam_platform.db.DatabaseBatch: calls of the same moment go to a database thread together.

The batching itself (waiting calls go together, a failed batch fails only its calls) is shown on the
connects in tests/answers/test_connects.py; here the generic parts: per-item refusals and the
results whose callers left.
"""

import asyncio
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exam_platform.batching import loop_batch
from exam_platform.db import DatabaseBatch, rows_update
from plans.models import ExamineeProgress


def doubled(items):
    time.sleep(0.05)
    return [ValueError(f"odd {item}") if item % 2 else item * 2 for item in items]


@pytest.mark.asyncio
async def test_each_caller_gets_its_result_or_its_refusal_and_a_left_callers_result_is_orphaned():
    """A refused item raises for its caller only; the result of a caller cancelled while its batch ran
    goes to `orphaned`, in a database thread."""
    # given: one batch at a time, so the later calls wait and go together
    orphaned = []
    batch = DatabaseBatch(run=doubled, running=1, orphaned=orphaned.extend)
    first = asyncio.ensure_future(batch.call(2))
    await asyncio.sleep(0.01)
    # when
    leaving, refused, kept = (asyncio.ensure_future(batch.call(item)) for item in (4, 5, 6))
    await asyncio.sleep(0.06)  # the second batch is on its thread now
    leaving.cancel()
    results = await asyncio.gather(first, refused, kept, return_exceptions=True)
    await asyncio.sleep(0.1)
    # then
    assert results[0] == 4 and results[2] == 12
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 5"
    assert orphaned == [8]


@pytest.mark.asyncio
async def test_a_loop_has_one_batch_of_each_name():
    """loop_batch makes a batch once per name and event loop."""
    made = []

    def make():
        made.append(DatabaseBatch(run=doubled))
        return made[-1]

    first, again, other = loop_batch("t1", make), loop_batch("t1", make), loop_batch("t2", make)
    assert first is again is made[0]
    assert other is made[1] and other is not first


@pytest.mark.django_db
def test_rows_update_saves_the_fields_of_each_row_in_one_statement(make_examinees, django_assert_num_queries):
    """rows_update writes each row's own values of the named fields (text, time, NULL), leaves the
    other fields and rows alone, in one statement."""
    # given
    deadline = timezone.now().replace(microsecond=0) + timedelta(minutes=30)
    examinees = make_examinees(3)
    ExamineeProgress.objects.filter(pk=examinees[1].pk).update(stage_deadline=deadline)
    first, second, untouched = (ExamineeProgress.objects.get(pk=e.pk) for e in examinees)
    first.ip_addr, first.stage_deadline, first.browser_info = "10.0.0.1", deadline, "left alone"
    second.ip_addr, second.stage_deadline = "10.0.0.2", None
    # when
    with django_assert_num_queries(1):
        rows_update([first, second], fields=["ip_addr", "stage_deadline"])
    # then
    rows = dict(ExamineeProgress.objects.values_list("pk", "ip_addr"))
    assert rows == {first.pk: "10.0.0.1", second.pk: "10.0.0.2", untouched.pk: ""}
    assert ExamineeProgress.objects.get(pk=first.pk).stage_deadline == deadline
    assert ExamineeProgress.objects.get(pk=second.pk).stage_deadline is None
    assert ExamineeProgress.objects.get(pk=first.pk).browser_info == ""
