"""The examinee's pages (the API is in answers/api/urls.py)."""

from django.urls import path

from .views import exam_login_view, exam_page_view

urlpatterns = [
    path("", exam_login_view, name="exam-login"),
    path("exam/", exam_page_view, name="exam-page"),
]
