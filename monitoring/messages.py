"""The catalogue of standard messages (STD_MESSAGE): the one source of every code the platform sends.

Every refusal anywhere (API, WebSocket, admin import, services) raises `CodedError` with a
`Msg` member; the reply carries the code and the wording in the request's language. The
STD_MESSAGE table is filled from this catalogue by a data migration and `std_message_sync()`.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.utils import translation

from .choices import MessageCategory as Cat
from .choices import MessageType as Type
from .choices import SourceType as Src


@dataclass
class MessageSpec:
    code: str
    message_type: str
    source_type: str
    category: str
    ko: str
    en: str


class Msg(MessageSpec, Enum):
    """Every standard message; the member name is STD_MESSAGE.MESSAGE_ID and MESSAGE_NAME."""

    # Authentication and authorisation
    AUTH_INVALID_CREDENTIALS = (
        "AUT-001",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "수험번호 또는 접속 코드가 올바르지 않습니다.",
        "The examinee ID or access code is not correct.",
    )
    AUTH_TOKEN_INVALID = (
        "AUT-002",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "인증이 만료되었거나 올바르지 않습니다. 다시 로그인하세요.",
        "Your sign-in has expired or is not valid. Please sign in again.",
    )
    AUTH_FORBIDDEN = (
        "AUT-003",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "본인의 시험 정보만 조회하거나 변경할 수 있습니다.",
        "You can read and change only your own exam data.",
    )
    AUTH_NO_ACCESS_CODE = (
        "AUT-004",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "접속 코드가 아직 발급되지 않았습니다. 감독관에게 문의하세요.",
        "No access code has been issued yet. Please ask your supervisor.",
    )
    AUTH_ACCOUNT_CONFLICT = (
        "AUT-005",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "감독관 로그인 계정을 설정할 수 없습니다. 같은 이름의 다른 계정이나 관리자 계정과 충돌합니다.",
        "The supervisor's sign-in account cannot be set: it clashes with another account or a staff account.",
    )
    AUTH_CSRF_FAILED = (
        "AUT-006",
        Type.ERROR,
        Src.SERVER,
        Cat.AUTH,
        "보안 확인(CSRF 토큰)에 실패했습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "The security check (CSRF token) failed. Reload the page and try again.",
    )
    # Validation of what a client sent
    VALIDATION_MALFORMED = (
        "VAL-001",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "요청 형식이 올바르지 않습니다 (JSON 오류).",
        "The request is not valid JSON.",
    )
    VALIDATION_SCHEMA = (
        "VAL-002",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "요청 항목이 누락되었거나 형식이 올바르지 않습니다.",
        "A field is missing or has the wrong type.",
    )
    VALIDATION_CHECKSUM = (
        "VAL-003",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "무결성 검증(checksum)에 실패했습니다. 아무것도 저장되지 않았습니다.",
        "The checksum does not match; nothing was stored.",
    )
    VALIDATION_TOO_LARGE = (
        "VAL-004",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "요청이 허용된 크기를 넘었습니다.",
        "The request is larger than allowed.",
    )
    VALIDATION_TOO_DEEP = (
        "VAL-005",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "요청의 중첩 깊이가 허용 범위를 넘었습니다.",
        "The request is nested too deeply.",
    )
    VALIDATION_UNKNOWN_QUESTION = (
        "VAL-006",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "이 시험지에 없는 문항입니다.",
        "The question is not on this paper.",
    )
    VALIDATION_VALUE_TOO_LONG = (
        "VAL-007",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "답안이 허용된 길이를 넘었습니다.",
        "The answer is longer than allowed.",
    )
    VALIDATION_INVALID_CHOICE = (
        "VAL-008",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "선택할 수 없는 보기입니다.",
        "That choice does not exist for this question.",
    )
    VALIDATION_VERSION_RANGE = (
        "VAL-009",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "버전 값이 허용 범위를 벗어났습니다.",
        "The version is out of range.",
    )
    VALIDATION_BAD_CHARACTER = (
        "VAL-010",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "저장할 수 없는 문자가 포함되어 있습니다.",
        "The text contains a character that cannot be stored.",
    )
    VALIDATION_EMPTY_FRAME = (
        "VAL-011",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "빈 메시지는 처리할 수 없습니다.",
        "An empty message cannot be processed.",
    )
    VALIDATION_BINARY_FRAME = (
        "VAL-012",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "바이너리 메시지는 지원하지 않습니다.",
        "Binary messages are not supported.",
    )
    VALIDATION_UNKNOWN_TYPE = (
        "VAL-013",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "알 수 없는 메시지 유형입니다.",
        "Unknown message type.",
    )
    VALIDATION_DUPLICATE_KEY = (
        "VAL-014",
        Type.ERROR,
        Src.SERVER,
        Cat.VALIDATION,
        "같은 항목이 두 번 포함되어 있습니다.",
        "A key appears twice.",
    )
    # Exam window and state
    EXAM_NOT_OPEN = (
        "EXM-001",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "지금은 시험 시간이 아닙니다.",
        "The exam is not open now.",
    )
    EXAM_STAGE_CLOSED = (
        "EXM-002",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "이 교시는 종료되어 답안을 변경할 수 없습니다.",
        "This stage has closed; its answers can no longer change.",
    )
    EXAM_ALREADY_SUBMITTED = (
        "EXM-003",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "이미 답안을 제출했습니다.",
        "The answer sheet has already been submitted.",
    )
    EXAM_PAUSED = (
        "EXM-004",
        Type.WARNING,
        Src.SERVER,
        Cat.EXAM,
        "시험이 일시정지되었습니다. 안내를 기다려 주세요.",
        "The exam is paused. Please wait for instructions.",
    )
    EXAM_ILLEGAL_TRANSITION = (
        "EXM-005",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "현재 상태에서는 할 수 없는 작업입니다.",
        "That action is not allowed in the current state.",
    )
    EXAM_NO_STAGE = (
        "EXM-006",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "시험 계획에 단계(교시)가 없습니다. 먼저 단계를 등록하세요.",
        "The exam plan has no stage yet; add a stage first.",
    )
    EXAM_NOT_FOUND = (
        "EXM-007",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "해당 시험 계획, 그룹 또는 수험자를 찾을 수 없습니다.",
        "No such exam plan, group or examinee.",
    )
    EXAM_EXTENSION_INVALID = (
        "EXM-008",
        Type.ERROR,
        Src.SERVER,
        Cat.EXAM,
        "추가 시간은 1초 이상 24시간 이하로 입력하세요. 진행 중인 교시에만 줄 수 있습니다.",
        "Extra time must be between 1 second and 24 hours, and only for a running stage.",
    )
    # Answers (notices)
    ANSWER_SAVED = ("ANS-001", Type.INFO, Src.SERVER, Cat.ANSWER, "답안이 저장되었습니다.", "The answer was saved.")
    ANSWER_COMMITTED = (
        "ANS-002",
        Type.INFO,
        Src.SERVER,
        Cat.ANSWER,
        "답안이 영구 저장되었습니다.",
        "The answer was stored permanently.",
    )
    ANSWER_STALE = (
        "ANS-003",
        Type.WARNING,
        Src.SERVER,
        Cat.ANSWER,
        "서버에 더 최신 답안이 있습니다.",
        "The server holds a newer version of this answer.",
    )
    ANSWER_DEAD_LETTER = (
        "ANS-004",
        Type.ERROR,
        Src.SERVER,
        Cat.ANSWER,
        "영구 저장에 반복 실패한 답안이 재처리 큐로 이동했습니다.",
        "An answer that kept failing to store moved to the reprocess queue.",
    )
    # Import
    IMPORT_INVALID_FILE = (
        "IMP-001",
        Type.ERROR,
        Src.SERVER,
        Cat.IMPORT,
        "파일 형식이 올바르지 않습니다. 아무것도 가져오지 않았습니다.",
        "The file is not in the expected format; nothing was imported.",
    )
    IMPORT_ROW_INVALID = (
        "IMP-002",
        Type.ERROR,
        Src.SERVER,
        Cat.IMPORT,
        "잘못된 행이 있어 아무것도 가져오지 않았습니다.",
        "Some rows are not valid; nothing was imported.",
    )
    IMPORT_OPTION_INVALID = (
        "IMP-003",
        Type.ERROR,
        Src.SERVER,
        Cat.IMPORT,
        "데이터 생성 옵션이 올바르지 않습니다. 아무것도 만들지 않았습니다.",
        "The options for creating data are not valid; nothing was created.",
    )
    IMPORT_PLAN_EXISTS = (
        "IMP-004",
        Type.ERROR,
        Src.SERVER,
        Cat.IMPORT,
        "같은 ID의 시험 계획이 이미 있습니다. 아무것도 만들지 않았습니다.",
        "An exam plan with this ID already exists; nothing was created.",
    )
    # System
    SYSTEM_STORE_UNAVAILABLE = (
        "SYS-001",
        Type.ERROR,
        Src.SERVER,
        Cat.SYSTEM,
        "일시적으로 저장할 수 없습니다. 답안은 이 기기에 보관되며 자동으로 다시 전송됩니다.",
        "Saving is unavailable for a moment; your answers are kept on this device and resent.",
    )
    SYSTEM_STORE_FULL = (
        "SYS-002",
        Type.ERROR,
        Src.SERVER,
        Cat.SYSTEM,
        "서버 저장 공간이 부족합니다. 답안은 이 기기에 보관되며 자동으로 다시 전송됩니다.",
        "The server is out of space; your answers are kept on this device and resent.",
    )
    SYSTEM_RATE_LIMITED = (
        "SYS-003",
        Type.ERROR,
        Src.SERVER,
        Cat.SYSTEM,
        "요청이 너무 많습니다. 잠시 후 다시 시도하세요.",
        "Too many requests; please try again shortly.",
    )
    SYSTEM_INTERNAL = (
        "SYS-004",
        Type.ERROR,
        Src.SERVER,
        Cat.SYSTEM,
        "서버 오류가 발생했습니다. 감독관에게 알려 주세요.",
        "A server error occurred. Please tell your supervisor.",
    )
    SYSTEM_BUSY = (
        "SYS-005",
        Type.WARNING,
        Src.SERVER,
        Cat.SYSTEM,
        "지금 접속하는 응시자가 많습니다. 안내된 시간 뒤에 자동으로 다시 연결합니다. 답안은 이 기기에 보관됩니다.",
        "Many examinees are connecting right now; the page connects again by itself at the time given. "
        "Your answers are kept on this device.",
    )

    @property
    def message_id(self) -> str:
        return self.name

    @property
    def http_status(self) -> int:
        """The HTTP status an API answers this message with."""
        if self.category == Cat.AUTH:
            return 403 if self.name in ("AUTH_FORBIDDEN", "AUTH_CSRF_FAILED") else 401
        if self.name == "SYSTEM_RATE_LIMITED":
            return 429
        if self.name in ("SYSTEM_STORE_UNAVAILABLE", "SYSTEM_STORE_FULL", "SYSTEM_BUSY"):
            return 503
        if self.category == Cat.SYSTEM:
            return 500
        if self.name == "EXAM_NOT_FOUND":
            return 404
        if self.category == Cat.EXAM:
            return 409
        if self.message_type == Type.INFO:
            return 200
        return 400

    def text(self, language: str | None = None) -> str:
        """The wording in `language` (default: the active language; Korean unless English)."""
        language = language or translation.get_language() or "ko"
        return self.en if language.startswith("en") else self.ko

    def as_reply(self, **extra: Any) -> dict[str, Any]:
        """The protocol's error body: {"type": "error", "code", "name", "message", ...}."""
        return {"type": "error", "code": self.code, "name": self.name, "message": self.text(), **extra}


class CodedError(Exception):
    """A refusal with a standard message; entry points turn it into their reply format."""

    def __init__(self, message: Msg, detail: str = "", **extra: Any) -> None:
        self.message = message
        self.detail = detail
        self.extra = extra
        super().__init__(f"{message.code} {message.name}{': ' + detail if detail else ''}")

    @property
    def code(self) -> str:
        return self.message.code

    def as_reply(self) -> dict[str, Any]:
        reply = self.message.as_reply(**self.extra)
        if self.detail:
            reply["detail"] = self.detail
        return reply
