"""plans.services.access: sign-ins checked together, one query for a batch."""

import pytest

from monitoring.messages import CodedError, Msg
from plans.services.access import SignIn, examinee_access_codes_issue, examinee_authenticate, examinees_authenticate

pytestmark = pytest.mark.django_db


def test_sign_ins_checked_together_answer_each_on_its_own_in_one_query(make_examinees, django_assert_num_queries):
    """Several sign-ins in one call: the right codes get their examinee, typed in lower case with a
    dash too; a wrong code, a wrong plan and an unknown ID each get AUTH_INVALID_CREDENTIALS alone;
    all in one query."""
    # given
    first, second, third = make_examinees(3)
    codes = dict(
        (examinee.pk, code)
        for examinee, code in examinee_access_codes_issue(examinee_ids=[first.pk, second.pk, third.pk])
    )
    sign_ins = [
        SignIn(first.plan_id, first.pk, codes[first.pk]),
        SignIn(second.plan_id, second.pk, f"{codes[second.pk][:5]}-{codes[second.pk][5:]}".lower()),
        SignIn(third.plan_id, third.pk, codes[first.pk]),
        SignIn("OTHER-PLAN", first.pk, codes[first.pk]),
        SignIn(first.plan_id, "NOBODY", codes[first.pk]),
    ]
    # when
    with django_assert_num_queries(1):
        results = examinees_authenticate(sign_ins=sign_ins)
    # then
    assert [result.pk for result in results[:2]] == [first.pk, second.pk]
    assert [result.message for result in results[2:]] == [Msg.AUTH_INVALID_CREDENTIALS] * 3
    assert all(isinstance(result, CodedError) for result in results[2:])


def test_one_sign_in_raises_its_refusal(examinee):
    """examinee_authenticate is the same rule for one: the examinee, or the coded refusal raised."""
    # given
    ((_examinee, code),) = examinee_access_codes_issue(examinee_ids=[examinee.pk])
    # when
    found = examinee_authenticate(plan_id=examinee.plan_id, examinee_id=examinee.pk, access_code=code)
    with pytest.raises(CodedError) as refused:
        examinee_authenticate(plan_id=examinee.plan_id, examinee_id=examinee.pk, access_code="WRONGCODE1")
    # then
    assert (found.pk, found.group_id, found.examinee_name) == (examinee.pk, examinee.group_id, examinee.examinee_name)
    assert refused.value.message is Msg.AUTH_INVALID_CREDENTIALS
