"""exam_platform.db.DatabaseBatch: calls of the same moment go to a database thread together.

The batching itself (waiting calls go together, a failed batch fails only its calls) is shown on the
connects in tests/answers/test_connects.py; here the generic parts: per-item refusals and the
results whose callers left.
"""

import asyncio
import time

import pytest

from exam_platform.batching import loop_batch
from exam_platform.db import DatabaseBatch


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
