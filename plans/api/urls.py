"""Operator API of the exam lifecycle, mounted under /api/v1/operator/ (exam_platform/urls.py)."""

from django.urls import path

from . import views

app_name = "plans-api"

urlpatterns = [
    path("plans/<str:plan_id>", views.PlanProgressApi.as_view(), name="plan-progress"),
    path("plans/<str:plan_id>/start", views.PlanStartApi.as_view(), name="plan-start"),
    path("plans/<str:plan_id>/pause", views.PlanPauseApi.as_view(), name="plan-pause"),
    path("plans/<str:plan_id>/resume", views.PlanResumeApi.as_view(), name="plan-resume"),
    path("plans/<str:plan_id>/complete", views.PlanCompleteApi.as_view(), name="plan-complete"),
    path("groups/<str:group_id>/start", views.GroupStartApi.as_view(), name="group-start"),
    path("groups/<str:group_id>/pause", views.GroupPauseApi.as_view(), name="group-pause"),
    path("groups/<str:group_id>/resume", views.GroupResumeApi.as_view(), name="group-resume"),
    path("groups/<str:group_id>/complete", views.GroupCompleteApi.as_view(), name="group-complete"),
    path("groups/<str:group_id>/advance", views.GroupStageAdvanceApi.as_view(), name="group-advance"),
    path("examinees/<str:examinee_id>/clock", views.ExamineeClockApi.as_view(), name="examinee-clock"),
    path("examinees/<str:examinee_id>/extend", views.ExamineeTimeExtendApi.as_view(), name="examinee-extend"),
    path(
        "examinees/<str:examinee_id>/force-submit",
        views.ExamineeForceSubmitApi.as_view(),
        name="examinee-force-submit",
    ),
]
