"""Every table and code table of the data specification (docs/spec/data-specification.ko.md, a copy of
the seed document) has its model, db_table, columns, lengths, NULL-ability and codes."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

from monitoring.choices import ServerType
from plans.choices import StatusCode
from proctoring.choices import SocketEventType, SocketStatusCode

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "data-specification.ko.md"
TABLE_HEADING = re.compile(r"^#{3,4} [\d.]+ .*\(([A-Z_]+)\)\s*$")
ROW = re.compile(r"^\|\s*([A-Z_]+)\s*\|\s*([A-Z]+)\s*\|\s*([^|]*?)\s*\|\s*(NOT NULL|NULL)\s*\|")
CODE_ROW = re.compile(r"^\|\s*([A-Z_]+)\s*\|\s*[^|]+\|\s*$")
CODE_TABLES = {
    "STATUS_CODE": StatusCode,
    "SERVER_TYPE": ServerType,
    "SOCKET_STATUS_CODE": SocketStatusCode,
    "SOCKET_EVENT_TYPE": SocketEventType,
}


def parse_spec():
    """{table: [(field, type, length, nullable)]} and {code table: [codes]} from the specification."""
    tables: dict[str, list[tuple[str, str, str, bool]]] = {}
    codes: dict[str, list[str]] = {}
    current = None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        heading = TABLE_HEADING.match(line)
        if heading:
            current = heading.group(1)
            continue
        if current is None or line.startswith("| -") or line.startswith("| 필드명") or line.startswith("| 코드"):
            continue
        row = ROW.match(line)
        if row and current not in CODE_TABLES:
            name, sql_type, length, null = row.groups()
            tables.setdefault(current, []).append((name, sql_type, length, null == "NULL"))
            continue
        code = CODE_ROW.match(line)
        if code and current in CODE_TABLES:
            codes.setdefault(current, []).append(code.group(1))
    return tables, codes


SPEC_TABLES, SPEC_CODES = parse_spec()
MODELS_BY_TABLE = {model._meta.db_table: model for model in apps.get_models()}


def column_field(model, column: str):
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    return None


def test_the_specification_is_parsed_whole():
    """The parser sees all 19 tables and 4 code tables of the specification (guards the other tests)."""
    # given / when / then
    assert len(SPEC_TABLES) == 19
    assert sorted(SPEC_CODES) == sorted(CODE_TABLES)
    assert sum(len(fields) for fields in SPEC_TABLES.values()) == 138


@pytest.mark.parametrize("table", sorted(SPEC_TABLES))
def test_every_spec_table_has_a_model(table):
    """Each specification table is the db_table of exactly one model."""
    assert table in MODELS_BY_TABLE, f"no model has db_table={table!r}"


@pytest.mark.parametrize(
    ("table", "name", "sql_type", "length", "nullable"),
    [(table, *field) for table, fields in sorted(SPEC_TABLES.items()) for field in fields],
)
def test_every_spec_field_has_its_column(table, name, sql_type, length, nullable):
    """Each field is a column of the same name, type family, length and NULL-ability."""
    # given
    model = MODELS_BY_TABLE[table]
    # when
    field = column_field(model, name.lower())
    # then
    assert field is not None, f"{table}.{name} has no column {name.lower()!r}"
    assert field.null is nullable, f"{table}.{name}: null={field.null}, spec says {'NULL' if nullable else 'NOT NULL'}"
    target = field.target_field if field.is_relation else field
    if sql_type in ("VARCHAR", "CHAR"):
        assert isinstance(target, models.CharField), f"{table}.{name} is {type(target).__name__}"
        assert target.max_length == int(length), f"{table}.{name}: max_length {target.max_length}, spec {length}"
    elif sql_type == "INTEGER":
        assert isinstance(target, models.IntegerField), f"{table}.{name} is {type(target).__name__}"
    elif sql_type == "DATETIME":
        assert isinstance(target, models.DateTimeField), f"{table}.{name} is {type(target).__name__}"
    elif sql_type == "TEXT":
        assert isinstance(target, models.TextField), f"{table}.{name} is {type(target).__name__}"
    elif sql_type == "DECIMAL":
        digits, places = (int(x) for x in length.strip("()").split(","))
        assert isinstance(target, models.DecimalField)
        assert (target.max_digits, target.decimal_places) == (digits, places)
    else:
        pytest.fail(f"unknown type {sql_type}")


@pytest.mark.parametrize("table", sorted(CODE_TABLES))
def test_every_code_table_is_a_text_choices(table):
    """Each code table is a TextChoices with exactly the specification's codes, in order."""
    assert list(CODE_TABLES[table].values) == SPEC_CODES[table]


def test_spec_primary_keys_are_primary_keys():
    """Tables whose single key the specification marks (PK) use it as the primary key."""
    expected = {
        "TEST_PLAN": "plan_id",
        "TEST_STAGE": "stage_id",
        "TEST_GROUP": "group_id",
        "SUPERVISOR": "supervisor_id",
        "EXAMINEE": "examinee_id",
        "SYSTEM_STATUS": "server_id",
        "MONITORING": "monitoring_time",
        "STD_MESSAGE": "message_id",
        "SOCKET_SESSION": "socket_id",
    }
    actual = {table: MODELS_BY_TABLE[table]._meta.pk.column for table in expected}
    assert actual == expected


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("ANSWER", {"examinee_id", "question_id"}),
        ("ANSWER_DATA", {"examinee_id", "question_id"}),
        ("ANSWER_HISTORY", {"examinee_id", "question_id", "version"}),
        ("QUESTION_METADATA", {"examinee_id", "question_id"}),
        ("SOLVING_STATS", {"examinee_id", "exam_id"}),
    ],
)
def test_composite_keys_are_unique_constraints(table, key):
    """Composite keys are a surrogate id plus a unique constraint over the key's columns."""
    model = MODELS_BY_TABLE[table]
    unique_sets = [
        {model._meta.get_field(name).column for name in constraint.fields}
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
    ]
    assert key in unique_sets
