"""Operator API of the exam lifecycle (issue 4): start, pause, resume and complete a plan or a group,
release a waiting stage, give an examinee extra time or force-submit, read clocks and live counts.

Thin: each view parses input, calls one service or selector of plans.services, and shapes the
output. Only staff users (the operators) may call it; the audit trail records their user name.
Refusals are CodedError, answered by exam_platform.api.coded_exception_handler.
"""

from django.db.models import Model
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.messages import CodedError, Msg

from ..models import GroupProgress, TestGroup, TestPlan, TestProgress
from ..services.clock import examinee_clock_get, plan_progress_overview_get
from ..services.lifecycle import (
    examinee_force_submit,
    examinee_time_extend,
    group_complete,
    group_pause,
    group_resume,
    group_stage_advance,
    group_start,
    plan_complete,
    plan_pause,
    plan_resume,
    plan_start,
)


def _get(model: type[Model], pk: str, label: str) -> Model:
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"{label} {pk}")
    return found


def _valid(serializer_class: type[serializers.Serializer], data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        detail = "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in serializer.errors.items())
        raise CodedError(Msg.VALIDATION_SCHEMA, detail=detail)
    return serializer.validated_data


class OperatorPermission(BasePermission):
    """Staff with the plan permissions the admin asks for: view to read, change to act (as the admin's actions)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        needed = "plans.view_testplan" if request.method in SAFE_METHODS else "plans.change_testplan"
        return user.has_perm(needed)


class OperatorApi(APIView):
    permission_classes = [OperatorPermission]

    @staticmethod
    def actor(request: Request) -> str:
        """The audit trail's name for the operator, with the channel they used (the admin writes admin:<name>)."""
        return f"api:{request.user.get_username()}"


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TestProgressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = TestProgress
        fields = ["plan_id", "status_code", "started_at", "paused_at", "completed_at"]


class GroupProgressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupProgress
        fields = [
            "group_id",
            "plan_id",
            "status_code",
            "assigned_examinee_cnt",
            "connected_examinee_cnt",
            "submitted_examinee_cnt",
            "assigned_supervisor_cnt",
            "connected_supervisor_cnt",
            "started_at",
            "paused_at",
            "completed_at",
        ]


# Plans -------------------------------------------------------------------------------------


class PlanProgressApi(OperatorApi):
    """GET -> the plan's status and every group's status and live counts."""

    def get(self, request: Request, plan_id: str) -> Response:
        overview = plan_progress_overview_get(plan_id=plan_id)
        return Response(
            {
                **TestProgressOutputSerializer(overview.progress).data,
                "groups": GroupProgressOutputSerializer(overview.groups, many=True).data,
            }
        )


class PlanTransitionApi(OperatorApi):
    """POST {"reason"?} -> the plan's TEST_PROGRESS after the transition."""

    InputSerializer = ReasonInputSerializer
    OutputSerializer = TestProgressOutputSerializer

    def apply(self, *, plan: TestPlan, actor: str, reason: str) -> TestProgress:
        raise NotImplementedError

    def post(self, request: Request, plan_id: str) -> Response:
        data = _valid(self.InputSerializer, request.data)
        plan = _get(TestPlan, plan_id, "plan")
        progress = self.apply(plan=plan, actor=self.actor(request), reason=data["reason"])
        return Response(self.OutputSerializer(progress).data)


class PlanStartApi(PlanTransitionApi):
    def apply(self, *, plan: TestPlan, actor: str, reason: str) -> TestProgress:
        return plan_start(plan=plan, actor=actor)


class PlanPauseApi(PlanTransitionApi):
    def apply(self, *, plan: TestPlan, actor: str, reason: str) -> TestProgress:
        return plan_pause(plan=plan, actor=actor, reason=reason)


class PlanResumeApi(PlanTransitionApi):
    def apply(self, *, plan: TestPlan, actor: str, reason: str) -> TestProgress:
        return plan_resume(plan=plan, actor=actor, reason=reason)


class PlanCompleteApi(PlanTransitionApi):
    def apply(self, *, plan: TestPlan, actor: str, reason: str) -> TestProgress:
        return plan_complete(plan=plan, actor=actor, reason=reason)


# Groups ------------------------------------------------------------------------------------


class GroupTransitionApi(OperatorApi):
    """POST {"reason"?} -> the group's GROUP_PROGRESS (status and counts) after the transition."""

    InputSerializer = ReasonInputSerializer
    OutputSerializer = GroupProgressOutputSerializer

    def apply(self, *, group: TestGroup, actor: str, reason: str) -> GroupProgress:
        raise NotImplementedError

    def post(self, request: Request, group_id: str) -> Response:
        data = _valid(self.InputSerializer, request.data)
        group = _get(TestGroup, group_id, "group")
        progress = self.apply(group=group, actor=self.actor(request), reason=data["reason"])
        return Response(self.OutputSerializer(progress).data)


class GroupStartApi(GroupTransitionApi):
    def apply(self, *, group: TestGroup, actor: str, reason: str) -> GroupProgress:
        return group_start(group=group, actor=actor)


class GroupPauseApi(GroupTransitionApi):
    def apply(self, *, group: TestGroup, actor: str, reason: str) -> GroupProgress:
        return group_pause(group=group, actor=actor, reason=reason)


class GroupResumeApi(GroupTransitionApi):
    def apply(self, *, group: TestGroup, actor: str, reason: str) -> GroupProgress:
        return group_resume(group=group, actor=actor, reason=reason)


class GroupCompleteApi(GroupTransitionApi):
    def apply(self, *, group: TestGroup, actor: str, reason: str) -> GroupProgress:
        return group_complete(group=group, actor=actor, reason=reason)


class GroupStageAdvanceApi(OperatorApi):
    """POST -> {"moved": n}: release the examinees waiting at a closed AUTO_MOVE 'N' stage."""

    def post(self, request: Request, group_id: str) -> Response:
        group = _get(TestGroup, group_id, "group")
        moved = group_stage_advance(group=group, actor=self.actor(request))
        return Response({"group_id": group.pk, "moved": moved})


# Examinees ---------------------------------------------------------------------------------


class ExamineeClockApi(OperatorApi):
    """GET -> the examinee's server clock (the page's "exam.clock" message)."""

    def get(self, request: Request, examinee_id: str) -> Response:
        return Response(examinee_clock_get(examinee_id).as_message())


class ExamineeTimeExtendApi(OperatorApi):
    """POST {"seconds", "reason"?} -> the examinee's clock with the extra time."""

    class InputSerializer(serializers.Serializer):
        seconds = serializers.IntegerField()
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def post(self, request: Request, examinee_id: str) -> Response:
        data = _valid(self.InputSerializer, request.data)
        examinee_time_extend(
            examinee_id=examinee_id, seconds=data["seconds"], actor=self.actor(request), reason=data["reason"]
        )
        return Response(examinee_clock_get(examinee_id).as_message())


class ExamineeForceSubmitApi(OperatorApi):
    """POST {"reason"?} -> {"examinee_id", "exam_status_code"} after the force submit."""

    InputSerializer = ReasonInputSerializer

    def post(self, request: Request, examinee_id: str) -> Response:
        data = _valid(self.InputSerializer, request.data)
        progress = examinee_force_submit(examinee_id=examinee_id, actor=self.actor(request), reason=data["reason"])
        return Response({"examinee_id": progress.pk, "exam_status_code": progress.exam_status_code})
