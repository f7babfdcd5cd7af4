"""Code tables of the answers app. ANSWER_TYPE lives with the questions in plans.choices."""

from plans.choices import AnswerType

__all__ = ["AnswerType"]
