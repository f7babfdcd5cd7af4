"""factory_boy factories of the plans app; people are created through the roster services."""

from datetime import timedelta

import factory
from django.utils import timezone

from plans.choices import AnswerType, ProgressStatus
from plans.models import GroupProgress, Question, QuestionPaper, TestGroup, TestPlan, TestProgress, TestStage


class TestPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestPlan
        skip_postgeneration_save = True

    plan_id = factory.Sequence(lambda n: f"PLAN{n:04d}")
    plan_name = factory.Sequence(lambda n: f"모의고사 {n}")
    start_datetime = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    end_datetime = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=3))
    progress = factory.RelatedFactory("tests.plans.factories.TestProgressFactory", factory_related_name="plan")


class TestProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestProgress

    status_code = ProgressStatus.READY


class QuestionPaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionPaper

    test_code = factory.Sequence(lambda n: f"PAPER{n:04d}")
    paper_name = factory.Sequence(lambda n: f"시험지 {n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    question_id = factory.Sequence(lambda n: f"Q{n:05d}")
    paper = factory.SubFactory(QuestionPaperFactory)
    question_no = factory.Sequence(lambda n: n + 1)
    question_type = AnswerType.MULTIPLE_CHOICE
    body = "다음 중 옳은 것은?"
    choices = factory.LazyFunction(lambda: [{"value": str(i), "label": f"보기 {i}"} for i in range(1, 5)])


class TestStageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestStage

    stage_id = factory.Sequence(lambda n: f"STAGE{n:04d}")
    plan = factory.SubFactory(TestPlanFactory)
    stage_name = factory.Sequence(lambda n: f"{n}교시")
    time_limit = 3600
    auto_move_yn = "Y"
    test_code = factory.SubFactory(QuestionPaperFactory)
    stage_order = factory.Sequence(lambda n: n + 1)


class TestGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestGroup
        skip_postgeneration_save = True

    group_id = factory.Sequence(lambda n: f"GROUP{n:04d}")
    plan = factory.SubFactory(TestPlanFactory)
    group_name = factory.Sequence(lambda n: f"제{n}고사실")
    start_datetime = factory.LazyAttribute(lambda o: o.plan.start_datetime)
    end_datetime = factory.LazyAttribute(lambda o: o.plan.end_datetime)
    progress = factory.RelatedFactory(
        "tests.plans.factories.GroupProgressFactory",
        factory_related_name="group",
        plan=factory.SelfAttribute("..plan"),
    )


class GroupProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupProgress

    status_code = ProgressStatus.READY
