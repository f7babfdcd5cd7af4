from django.urls import path

from .views import AnswerRecoverApi, AnswerSyncApi, examinee_login_api

urlpatterns = [
    path("examinee/login", examinee_login_api, name="examinee-login"),
    path("answers/sync", AnswerSyncApi.as_view(), name="answer-sync"),
    path("answers/recover", AnswerRecoverApi.as_view(), name="answer-recover"),
]
