"""A ready-to-try exam for `make run` and demos: one started plan with papers, rooms, people and credentials.

`demo_seed` builds everything through the roster, access and lifecycle services, so the demo
data is exactly what an operator's import would make (progress rows, counters, hashed access
codes). Passwords and access codes exist in clear only in the returned credentials and the CSV
that `demo_credentials_write` writes; the database keeps only hashes.
"""

from __future__ import annotations

import csv
import os
import random
import re
import secrets
import string
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from monitoring.messages import CodedError, Msg

from ..choices import AnswerType
from ..models import ANSWER_VALUE_LENGTH, ExamineeProgress, Question, QuestionPaper, Supervisor, TestPlan, TestStage
from .access import examinee_access_codes_issue
from .lifecycle import plan_start
from .roster import (
    BULK_BATCH_SIZE,
    PersonRow,
    examinees_bulk_create,
    group_create,
    plan_create,
    stage_create,
    supervisors_bulk_create,
)

DEMO_PLAN_ID = "DEMO"
OPERATOR_USERNAME = "admin"
SEED_ACTOR = "seed_demo"
# Values of the CSV's `role` column (English constants, like every stored code).
ROLE_EXAMINEE = "examinee"
ROLE_SUPERVISOR = "supervisor"
ROLE_OPERATOR = "operator"
CSV_COLUMNS = ["plan_id", "group_id", "role", "login_id", "access_code_or_password"]

# Derived IDs are "<plan>-E00001" and the like; 20 characters leave room within ID_LENGTH (50).
PLAN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MAX_EXAMINEES = 100_000
# One supervisor per group, and each supervisor password costs one slow hash (~0.25 s).
MAX_GROUPS = 200
MIN_QUESTIONS = 2  # one multiple-choice and one short-answer question at least
MAX_QUESTIONS = 100
# 16 letters and digits, about 95 bits; no punctuation, so it survives copying from a terminal or CSV.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 16
# The plan opened a few minutes ago, so "open now" holds even on a slow machine, and runs ~6 hours.
OPENED_AGO = timedelta(minutes=5)
OPEN_FOR = timedelta(hours=6)


@dataclass(frozen=True)
class DemoCredential:
    """One row of the credentials CSV: who signs in where, and with which secret."""

    plan_id: str
    group_id: str
    role: str
    login_id: str
    secret: str


@dataclass(frozen=True)
class DemoSeedResult:
    """What `demo_seed` made, with the credentials in clear (the only copy besides the CSV)."""

    plan: TestPlan
    stage_count: int
    question_count: int
    group_count: int
    supervisor_count: int
    examinee_count: int
    credentials: list[DemoCredential]
    output: Path | None
    replaced: bool = False


@dataclass(frozen=True)
class QuestionSpec:
    question_type: str
    body: str
    choices: list[dict[str, str]]
    max_length: int


@dataclass(frozen=True)
class Subject:
    name: str
    minutes: int
    make_question: Callable[[int, int, random.Random], QuestionSpec]


def _choice_list(labels: Sequence[str], rotate: int) -> list[dict[str, str]]:
    """Options as [{"value": "1", "label": ...}], rotated so the first label is not always in place 1."""
    shift = rotate % len(labels)
    ordered = list(labels[shift:]) + list(labels[:shift])
    return [{"value": str(index), "label": label} for index, label in enumerate(ordered, start=1)]


def _from_bank(
    multiple_choice: Sequence[tuple[str, Sequence[str]]], short_answer: Sequence[tuple[str, int]]
) -> Callable[[int, int, random.Random], QuestionSpec]:
    """A question maker that takes the n-th question of a fixed bank, numbering repeats as variants."""

    def make(number: int, short_index: int, rng: random.Random) -> QuestionSpec:
        if short_index < 0:
            body, labels = multiple_choice[number % len(multiple_choice)]
            repeat = number // len(multiple_choice)
            body = body if repeat == 0 else f"{body} (유형 {repeat + 1})"
            return QuestionSpec(AnswerType.MULTIPLE_CHOICE, body, _choice_list(labels, number), ANSWER_VALUE_LENGTH)
        body, max_length = short_answer[short_index % len(short_answer)]
        repeat = short_index // len(short_answer)
        body = body if repeat == 0 else f"{body} (유형 {repeat + 1})"
        return QuestionSpec(AnswerType.SHORT_ANSWER, body, [], max_length)

    return make


def _math_question(number: int, short_index: int, rng: random.Random) -> QuestionSpec:
    """Mathematics questions with fresh numbers each time, so any count of them stays distinct."""
    if short_index >= 0:
        if short_index % 2 == 0:
            a, b = rng.randint(2, 9) * 6, rng.randint(2, 9) * 4
            return QuestionSpec(AnswerType.SHORT_ANSWER, f"두 수 {a}, {b}의 최대공약수를 구하시오.", [], 10)
        first, step = rng.randint(1, 9), rng.randint(2, 7)
        terms = ", ".join(str(first + step * k) for k in range(3))
        return QuestionSpec(AnswerType.SHORT_ANSWER, f"등차수열 {terms}, …의 제10항을 구하시오.", [], 10)
    kind = number % 4
    if kind == 0:
        a, x, b = rng.randint(2, 9), rng.randint(-5, 9), rng.randint(1, 20)
        body = f"일차방정식 {a}x + {b} = {a * x + b}의 해는?"
        answer = x
    elif kind == 1:
        a, b, c = rng.randint(3, 15), rng.randint(3, 15), rng.randint(1, 30)
        body = f"{a} × {b} − {c}의 값은?"
        answer = a * b - c
    elif kind == 2:
        r1, r2 = rng.randint(1, 9), rng.randint(1, 9)
        body = f"이차방정식 x² − {r1 + r2}x + {r1 * r2} = 0의 두 근의 합은?"
        answer = r1 + r2
    else:
        base, height = rng.randint(2, 12) * 2, rng.randint(3, 15)
        body = f"밑변의 길이가 {base} cm, 높이가 {height} cm인 삼각형의 넓이(cm²)는?"
        answer = base * height // 2
    labels = [str(answer + offset) for offset in (-2, -1, 0, 1, 2)]
    return QuestionSpec(AnswerType.MULTIPLE_CHOICE, body, _choice_list(labels, number), ANSWER_VALUE_LENGTH)


KOREAN = _from_bank(
    [
        (
            "다음 중 맞춤법이 옳은 것은?",
            [
                "어떻게 하든지 상관없다.",
                "몇일 동안 비가 왔다.",
                "웬지 기분이 좋았다.",
                "오랫만에 만났다.",
                "설겆이를 마쳤다.",
            ],
        ),
        (
            "다음 중 높임 표현이 바르게 쓰인 것은?",
            [
                "할머니께서 진지를 잡수신다.",
                "선생님, 제가 말씀하실게요.",
                "아버지가 방에 있으시다.",
                "주문하신 커피 나오셨습니다.",
                "사장님의 말씀이 계시겠습니다.",
            ],
        ),
        ("'가을 하늘이 높고 푸르다.'에 쓰인 서술어의 개수는?", ["2개", "1개", "3개", "4개", "5개"]),
        (
            "다음 중 은유법이 쓰인 문장은?",
            ["내 마음은 호수요.", "바람이 분다.", "꽃이 피었다.", "하늘이 맑다.", "눈이 내린다."],
        ),
        ("다음 중 표준어가 아닌 것은?", ["윗어른", "짜장면", "먹거리", "웃어른", "삐지다"]),
        ("다음 중 고유어인 것은?", ["사랑", "학교", "친구", "도서관", "공부"]),
        ("다음 중 띄어쓰기가 바른 것은?", ["할 수 있다.", "할수 있다.", "할 수있다.", "할수있다.", "할 수 있 다."]),
        (
            "관용 표현 '손이 크다'의 뜻으로 가장 알맞은 것은?",
            ["씀씀이가 후하다.", "손의 크기가 크다.", "일을 빨리 한다.", "힘이 세다.", "욕심이 많다."],
        ),
    ],
    [
        ("다음 문장의 주어를 찾아 쓰시오. '어제 민수가 도서관에서 책을 빌렸다.'", 20),
        ("'봄'을 주제로 한 문장을 하나 쓰시오.", 200),
        ("훈민정음을 창제한 조선의 왕을 쓰시오.", 20),
    ],
)
ENGLISH = _from_bank(
    [
        (
            "다음 빈칸에 들어갈 말로 가장 적절한 것은? 'She ___ to school every day.'",
            ["goes", "go", "going", "gone", "to go"],
        ),
        ("다음 중 'diligent'와 뜻이 가장 가까운 것은?", ["hardworking", "lazy", "careless", "quiet", "angry"]),
        (
            "다음 문장에서 어법상 틀린 것은? 'He have finished his homework already.'",
            ["have", "He", "finished", "his", "already"],
        ),
        (
            "대화의 빈칸에 알맞은 것은? A: How are you? B: ___",
            ["I'm fine, thanks.", "I'm ten years old.", "It's on the desk.", "Yes, I do.", "At seven."],
        ),
        ("'도서관'을 뜻하는 영어 단어는?", ["library", "laboratory", "bookstore", "museum", "hospital"]),
        ("다음 중 복수형이 바르게 쓰인 것은?", ["children", "childs", "mans", "foots", "tooths"]),
        ("빈칸에 알맞은 것은? 'I have lived here ___ 2020.'", ["since", "for", "during", "at", "on"]),
    ],
    [
        ("다음 우리말을 영어로 쓰시오. '나는 매일 아침 운동을 한다.'", 200),
        ("'happy'의 반의어를 영어로 쓰시오.", 20),
        ("'mouse'의 복수형을 영어로 쓰시오.", 20),
    ],
)
HISTORY = _from_bank(
    [
        ("훈민정음을 창제한 왕은?", ["세종", "태조", "세조", "정조", "영조"]),
        ("고려를 건국한 인물은?", ["왕건", "이성계", "궁예", "견훤", "김유신"]),
        ("3·1 운동이 일어난 해는?", ["1919년", "1910년", "1945년", "1950년", "1894년"]),
        ("임진왜란 때 한산도 대첩을 승리로 이끈 인물은?", ["이순신", "권율", "곽재우", "김시민", "강감찬"]),
        ("대한민국 임시 정부가 처음 수립된 도시는?", ["상하이", "베이징", "도쿄", "블라디보스토크", "충칭"]),
        ("고조선을 건국한 것으로 전해지는 인물은?", ["단군왕검", "주몽", "온조", "박혁거세", "김수로"]),
        ("조선 후기 수원 화성을 건설한 왕은?", ["정조", "세종", "태종", "숙종", "광해군"]),
    ],
    [
        ("조선을 건국한 왕의 이름을 쓰시오.", 20),
        ("신라가 삼국을 통일한 뒤 세운 최고 교육 기관의 이름을 쓰시오.", 20),
        ("우리나라가 일제로부터 광복을 맞은 해를 숫자로 쓰시오.", 10),
    ],
)
SOCIETY = _from_bank(
    [
        ("다음 중 국민의 기본권에 해당하지 않는 것은?", ["납세의 의무", "평등권", "자유권", "참정권", "사회권"]),
        (
            "공급이 일정할 때 수요가 증가하면 균형 가격은 어떻게 되는가?",
            ["상승한다", "하락한다", "변하지 않는다", "0이 된다", "알 수 없다"],
        ),
        ("다음 중 재생 에너지에 해당하는 것은?", ["태양광", "석탄", "석유", "천연가스", "우라늄"]),
        ("대한민국 헌법이 정한 국회의원의 임기는?", ["4년", "2년", "3년", "5년", "6년"]),
        (
            "기업이 생산에 필요한 노동, 토지, 자본을 사고파는 시장은?",
            ["생산 요소 시장", "생산물 시장", "금융 시장", "외환 시장", "주식 시장"],
        ),
        (
            "열대 기후 지역의 특징으로 가장 알맞은 것은?",
            ["연중 기온이 높다.", "겨울이 길고 춥다.", "연중 건조하다.", "사계절이 뚜렷하다.", "연중 눈이 덮여 있다."],
        ),
        ("인권이 모든 사람에게 차별 없이 보장된다는 특성은?", ["보편성", "항구성", "불가침성", "천부성", "상대성"]),
    ],
    [
        ("국가 권력을 입법·행정·사법으로 나누어 맡기는 원리를 무엇이라 하는지 쓰시오.", 50),
        ("가격이 오르면 수요량이 줄어드는 경제 법칙을 무엇이라 하는지 쓰시오.", 20),
        ("국회의 권한 중 법률을 만드는 권한을 무엇이라 하는지 쓰시오.", 20),
    ],
)
SCIENCE = _from_bank(
    [
        ("물의 화학식은?", ["H₂O", "CO₂", "O₂", "NaCl", "H₂O₂"]),
        ("지구 대기에서 부피 비율이 가장 큰 기체는?", ["질소", "산소", "아르곤", "이산화 탄소", "수소"]),
        ("광합성이 일어나는 세포 소기관은?", ["엽록체", "미토콘드리아", "핵", "리보솜", "세포막"]),
        ("원소 기호와 이름이 바르게 짝지어진 것은?", ["Na – 나트륨", "K – 칼슘", "C – 구리", "S – 은", "Fe – 불소"]),
        ("빛이 물에서 공기로 나아갈 때 경계면에서 꺾이는 현상은?", ["굴절", "반사", "간섭", "회절", "분산"]),
        ("생태계에서 스스로 양분을 만드는 생물은?", ["생산자", "1차 소비자", "2차 소비자", "분해자", "최종 소비자"]),
        ("두 판이 서로 멀어지는 판의 경계는?", ["발산형 경계", "수렴형 경계", "보존형 경계", "충돌형 경계", "섭입대"]),
    ],
    [
        ("힘의 단위를 기호로 쓰시오.", 10),
        ("질량이 2 kg인 물체에 4 N의 알짜힘이 작용할 때 가속도의 크기(m/s²)를 쓰시오.", 10),
        ("1기압에서 물이 끓는 온도(℃)를 숫자로 쓰시오.", 10),
    ],
)
# One subject per stage, in order: 교시 1 is 국어, 교시 2 수학, and so on.
SUBJECTS = [
    Subject("국어", 30, KOREAN),
    Subject("수학", 30, _math_question),
    Subject("영어", 25, ENGLISH),
    Subject("한국사", 20, HISTORY),
    Subject("통합사회", 20, SOCIETY),
    Subject("통합과학", 20, SCIENCE),
]
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN_FIRST = "민서지하도예수현준유은채시주태"
GIVEN_SECOND = "준윤우원호연아린진빈영희성혁율"


def demo_options_check(*, plan_id: str, groups: int, examinees: int, questions: int, stages: int) -> None:
    """Refuse options that cannot make a sensible demo, with IMPORT_OPTION_INVALID and the reason."""
    problems = []
    if not PLAN_ID_PATTERN.match(plan_id or ""):
        problems.append(f"plan ID must be 1-20 letters, digits, '-' or '_' (got {plan_id!r})")
    if not 1 <= examinees <= MAX_EXAMINEES:
        problems.append(f"examinees must be between 1 and {MAX_EXAMINEES} (got {examinees})")
    if not 1 <= groups <= MAX_GROUPS:
        problems.append(f"groups must be between 1 and {MAX_GROUPS} (got {groups})")
    elif groups > examinees:
        problems.append(f"groups ({groups}) must not outnumber examinees ({examinees}): a group needs an examinee")
    if not MIN_QUESTIONS <= questions <= MAX_QUESTIONS:
        problems.append(f"questions per paper must be between {MIN_QUESTIONS} and {MAX_QUESTIONS} (got {questions})")
    if not 1 <= stages <= len(SUBJECTS):
        problems.append(f"stages must be between 1 and {len(SUBJECTS)} (got {stages})")
    if problems:
        raise CodedError(Msg.IMPORT_OPTION_INVALID, detail="; ".join(problems))


def _person_names(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(SURNAMES) + rng.choice(GIVEN_FIRST) + rng.choice(GIVEN_SECOND) for _ in range(count)]


def _group_sizes(examinees: int, groups: int) -> list[int]:
    """Examinees spread as evenly as possible: the first `examinees % groups` groups get one more."""
    base, extra = divmod(examinees, groups)
    return [base + (1 if index < extra else 0) for index in range(groups)]


def _password_generate() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _passwords_hash(passwords: Sequence[str]) -> list[str]:
    """Django password hashes, computed in a small thread pool: PBKDF2 releases the GIL."""
    if not passwords:
        return []
    workers = max(1, min(len(passwords), os.cpu_count() or 1, 4))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(make_password, passwords))


def _papers_create(*, plan_id: str, stages: int, questions: int) -> list[QuestionPaper]:
    """One paper per stage, multiple-choice questions first and short answers last (about a third)."""
    paper_ids = [f"{plan_id}-P{number}" for number in range(1, stages + 1)]
    question_ids = [f"{paper_id}-Q{number:03d}" for paper_id in paper_ids for number in range(1, questions + 1)]
    if QuestionPaper.objects.filter(pk__in=paper_ids).exists() or Question.objects.filter(pk__in=question_ids).exists():
        raise CodedError(Msg.IMPORT_PLAN_EXISTS, detail=f"question papers of {plan_id} already exist")
    short_count = max(1, questions // 3)
    papers, rows = [], []
    for index, paper_id in enumerate(paper_ids):
        subject = SUBJECTS[index]
        paper = QuestionPaper(test_code=paper_id, paper_name=f"{subject.name} 시험지")
        paper.clean_fields()
        papers.append(paper)
        rng = random.Random(f"{paper_id}:questions")
        for number in range(1, questions + 1):
            short_index = number - 1 - (questions - short_count)
            spec = subject.make_question(number - 1, short_index, rng)
            question = Question(
                question_id=f"{paper_id}-Q{number:03d}",
                paper=paper,
                question_no=number,
                question_type=spec.question_type,
                body=spec.body,
                choices=spec.choices,
                max_length=spec.max_length,
                points=2 if spec.question_type == AnswerType.MULTIPLE_CHOICE else 3,
            )
            question.clean_fields(exclude=["paper"])
            rows.append(question)
    QuestionPaper.objects.bulk_create(papers)
    Question.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE)
    return papers


def demo_credentials_write(*, path: Path, credentials: Sequence[DemoCredential]) -> Path:
    """Write the credentials CSV (UTF-8, owner-only permissions) atomically and return its path.

    The file is written next to its final name and then renamed, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in credentials:
            writer.writerow([row.plan_id, row.group_id, row.role, row.login_id, row.secret])
    os.replace(partial, path)
    return path


def _operator_set(*, password_hash: str) -> None:
    """The demo operator: a superuser named `admin`; an existing `admin` gets the new password."""
    get_user_model().objects.update_or_create(
        username=OPERATOR_USERNAME,
        defaults={"is_staff": True, "is_superuser": True, "is_active": True, "password": password_hash},
    )


def demo_seed(
    *,
    plan_id: str = DEMO_PLAN_ID,
    groups: int = 3,
    examinees: int = 30,
    questions: int = 10,
    stages: int = 2,
    output: Path | None = None,
    replace: bool = False,
    now: datetime | None = None,
) -> DemoSeedResult:
    """Create a started demo plan open for the next six hours, and its credentials CSV.

    Stages (1교시 국어, 2교시 수학, ...) each get a paper of multiple-choice and short-answer
    questions; groups (제1고사실, ...) get one supervisor each (a Django user named by the
    supervisor ID) and the examinees spread evenly, each with an access code. The demo operator
    `admin` is a superuser. All of it is one transaction, the CSV written inside it: a refusal or a
    failure leaves neither rows nor file. Slow password hashes are computed before the
    transaction opens, so it stays short.

    Args:
        replace: delete an existing plan of the same ID first (in the same transaction, so a
            failure keeps the old plan); without it an existing plan is refused with IMPORT_PLAN_EXISTS.
    """
    demo_options_check(plan_id=plan_id, groups=groups, examinees=examinees, questions=questions, stages=stages)
    if not replace and TestPlan.objects.filter(pk=plan_id).exists():
        raise CodedError(Msg.IMPORT_PLAN_EXISTS, detail=plan_id)
    now = now or timezone.now()
    start, end = now - OPENED_AGO, now - OPENED_AGO + OPEN_FOR
    names = random.Random(f"{plan_id}:names")

    group_ids = [f"{plan_id}-G{number:03d}" for number in range(1, groups + 1)]
    supervisor_ids = [f"{plan_id}-S{number:03d}" for number in range(1, groups + 1)]
    passwords = [_password_generate() for _ in range(groups + 1)]
    *supervisor_hashes, operator_hash = _passwords_hash(passwords)
    width = max(5, len(str(examinees)))
    examinee_rows: list[PersonRow] = []
    examinee_names = _person_names(names, examinees)
    for group_id, size in zip(group_ids, _group_sizes(examinees, groups), strict=True):
        for _ in range(size):
            number = len(examinee_rows) + 1
            examinee_rows.append(
                PersonRow(
                    person_id=f"{plan_id}-E{number:0{width}d}", group_id=group_id, name=examinee_names[number - 1]
                )
            )

    with transaction.atomic():
        replaced = demo_plan_delete(plan_id=plan_id) if replace else False
        plan = plan_create(
            plan_id=plan_id,
            plan_name=f"{timezone.localtime(now).year}학년도 온라인 모의평가 (데모)",
            start_datetime=start,
            end_datetime=end,
        )
        papers = _papers_create(plan_id=plan_id, stages=stages, questions=questions)
        for order, paper in enumerate(papers, start=1):
            subject = SUBJECTS[order - 1]
            stage_create(
                plan=plan,
                stage_id=f"{plan_id}-ST{order}",
                stage_name=f"{order}교시 {subject.name}",
                time_limit=subject.minutes * 60,
                stage_order=order,
                auto_move=True,
                paper=paper,
                test_time=subject.minutes * 60,
            )
        for number, group_id in enumerate(group_ids, start=1):
            group_create(
                plan=plan,
                group_id=group_id,
                group_name=f"제{number}고사실",
                group_desc=f"본관 {(number - 1) // 10 + 1}층 {number:02d}호",
                start_datetime=start,
                end_datetime=end,
            )
        supervisors = _supervisors_create(
            plan_id=plan_id,
            rows=[
                PersonRow(person_id=supervisor_id, group_id=group_id, name=name)
                for supervisor_id, group_id, name in zip(
                    supervisor_ids, group_ids, _person_names(names, groups), strict=True
                )
            ],
            password_hashes=supervisor_hashes,
        )
        examinees_bulk_create(rows=examinee_rows)
        issued = examinee_access_codes_issue(examinee_ids=[row.person_id for row in examinee_rows])
        _operator_set(password_hash=operator_hash)
        plan_start(plan=plan, actor=SEED_ACTOR)

        credentials = [
            DemoCredential(plan_id, supervisor.group_id, ROLE_SUPERVISOR, supervisor.supervisor_id, password)
            for supervisor, password in zip(supervisors, passwords[:-1], strict=True)
        ]
        credentials += [
            DemoCredential(plan_id, examinee.group_id, ROLE_EXAMINEE, examinee.examinee_id, code)
            for examinee, code in issued
        ]
        credentials.append(DemoCredential(plan_id, "", ROLE_OPERATOR, OPERATOR_USERNAME, passwords[-1]))
        if output is not None:
            output = demo_credentials_write(path=output, credentials=credentials)

    return DemoSeedResult(
        plan=plan,
        stage_count=stages,
        question_count=stages * questions,
        group_count=groups,
        supervisor_count=len(supervisors),
        examinee_count=len(issued),
        credentials=credentials,
        output=output,
        replaced=replaced,
    )


def _supervisors_create(*, plan_id: str, rows: Sequence[PersonRow], password_hashes: Sequence[str]) -> list[Supervisor]:
    """Supervisors through the roster service, then their precomputed password hashes in one update."""
    supervisors = supervisors_bulk_create(rows=rows)
    users = []
    for supervisor, password_hash in zip(supervisors, password_hashes, strict=True):
        supervisor.user.password = password_hash
        users.append(supervisor.user)
    get_user_model().objects.bulk_update(users, ["password"], batch_size=BULK_BATCH_SIZE)
    return supervisors


@transaction.atomic
def demo_plan_delete(*, plan_id: str) -> bool:
    """Delete a demo plan with everything in it, its papers and its supervisors' user accounts.

    Returns False when there is no such plan. Papers that a stage of another plan still uses are
    kept. The operator account stays (the next `demo_seed` gives it a new password).
    """
    plan = TestPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        return False
    user_ids = list(Supervisor.objects.filter(plan_id=plan_id, user__isnull=False).values_list("user_id", flat=True))
    paper_ids = list(
        TestStage.objects.filter(plan_id=plan_id, test_code__isnull=False).values_list("test_code_id", flat=True)
    )
    # EXAMINEE_PROGRESS.current_stage PROTECTs the stages; Django's collector may reach a stage
    # before the progress rows that the plan's cascade deletes anyway, so they go first.
    ExamineeProgress.objects.filter(plan_id=plan_id).delete()
    plan.delete()
    orphan_paper_ids = list(
        QuestionPaper.objects.filter(pk__in=paper_ids, stages__isnull=True).values_list("pk", flat=True)
    )
    Question.objects.filter(paper_id__in=orphan_paper_ids).delete()
    QuestionPaper.objects.filter(pk__in=orphan_paper_ids).delete()
    get_user_model().objects.filter(pk__in=user_ids).delete()
    return True
