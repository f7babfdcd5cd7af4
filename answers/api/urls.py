from django.urls import path

from .views import AnswerRecoverApi, AnswerSyncApi, ExamineeLoginApi

urlpatterns = [
    path("examinee/login", ExamineeLoginApi.as_view(), name="examinee-login"),
    path("answers/sync", AnswerSyncApi.as_view(), name="answer-sync"),
    path("answers/recover", AnswerRecoverApi.as_view(), name="answer-recover"),
]
