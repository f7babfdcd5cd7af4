"""Property: whatever order duplicates, stale and concurrent writes arrive in, the cache and the database
end at the highest accepted version, with one history row per accepted version."""

import threading

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from answers.models import AnswerData, AnswerHistory, QuestionMetadata, SolvingStats
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from answers.services.protocol import answer_sync_validate
from answers.services.sync import answer_sync_apply
from tests.answers.helpers import sync_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

writes = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.integers(1, 6), st.sampled_from(["1", "2", "3"]), st.sampled_from([0, 1])),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=writes)
def test_two_writers_end_at_the_highest_accepted_version(redis_conn, examinee, open_exam, questions, operations):
    """Two tabs write at once; versions never fork, the database ends at the highest accepted one."""
    # given
    redis_conn.flushdb()
    for model in (AnswerHistory, AnswerData, QuestionMetadata, SolvingStats):
        model.objects.all().delete()
    answer_queue_ensure(redis_conn)
    question_ids = [questions[0].pk, questions[1].pk]
    context = examinee_context_get(examinee_id=examinee.pk)
    batches: list[list[tuple[int, str, str]]] = [[], []]
    for tab, version, value, question_index in operations:
        batches[tab].append((version, value, question_ids[question_index]))
    replies: list[tuple[str, int, str, object]] = []
    lock = threading.Lock()

    def tab_writes(batch):
        for version, value, question_id in batch:
            message = answer_sync_validate(
                sync_message(
                    examinee=examinee, test_code=open_exam.test_code_id, changes={question_id: (value, version)}
                )
            )
            result = answer_sync_apply(context=context, message=message, now=timezone.now())
            with lock:
                replies.append((question_id, version, value, result))

    # when: two tabs at once
    threads = [threading.Thread(target=tab_writes, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: no two values were ever accepted for one version, stale replies name a version at least as high
    accepted_values: dict[tuple[str, int], set[str]] = {}
    for question_id, version, value, result in replies:
        if result.accepted:
            assert result.accepted == {question_id: version}
            accepted_values.setdefault((question_id, version), set()).add(value)
        else:
            server_version = result.stale[question_id]
            assert server_version >= version
    assert all(len(values) == 1 for values in accepted_values.values())
    for question_id, version, value, result in replies:
        if result.stale and result.stale[question_id] == version:
            assert accepted_values[(question_id, version)] != {value}
    answer_queue_flush(consumer="prop")
    expected = {}
    for (question_id, version), values in accepted_values.items():
        if question_id not in expected or expected[question_id][0] < version:
            expected[question_id] = (version, next(iter(values)))
    stored = {row.question_id: (row.version, row.answer_value) for row in AnswerData.objects.all()}
    assert stored == expected
    history = sorted(AnswerHistory.objects.values_list("question_id", "version"))
    assert history == sorted(accepted_values)
