"""docs/data-model.md describes the models that exist: every model of our apps has a section named by its
db_table whose table lists exactly its columns and its specification fields, and every TextChoices of our apps
is in the code-table list with all its values. A model change without a doc change fails here.
"""

import inspect
import re
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

from tests.platform.test_data_specification import SPEC_TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"
OUR_APPS = ["plans", "answers", "proctoring", "monitoring"]
SECTION_HEADING = re.compile(r"^### `([A-Z_]+)` · (\w+)\.(\w+)")
ANY_HEADING = re.compile(r"^#{1,3} ")
COLUMN_ROW = re.compile(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*([^|]*?)\s*\|")
CODE_HEADING = "## Code tables"


def doc_sections() -> dict[str, dict]:
    """{db_table: {"model": "app.Model", "columns": [...], "spec_fields": [...]}} from the doc's table sections."""
    sections: dict[str, dict] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = SECTION_HEADING.match(line)
        if heading:
            table, app_label, model_name = heading.groups()
            assert table not in sections, f"two sections for {table}"
            current = sections[table] = {"model": f"{app_label}.{model_name}", "columns": [], "spec_fields": []}
            continue
        if ANY_HEADING.match(line):
            current = None
            continue
        row = COLUMN_ROW.match(line)
        if current is not None and row:
            column, spec_field = row.groups()
            current["columns"].append(column)
            if spec_field != "—":
                current["spec_fields"].append(spec_field)
    return sections


def code_table_rows() -> dict[str, str]:
    """{TextChoices name: its whole row} from the doc's code-table list."""
    text = DOC.read_text(encoding="utf-8")
    assert CODE_HEADING in text, f"docs/data-model.md has no '{CODE_HEADING}' section"
    rows: dict[str, str] = {}
    for line in text.split(CODE_HEADING, 1)[1].splitlines():
        if line.startswith("## "):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`\w+`", cells[1]):
            rows[cells[1].strip("`")] = line
    return rows


def our_models() -> list[type[models.Model]]:
    return [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]


def our_text_choices() -> list[type[models.TextChoices]]:
    """Every TextChoices class defined (not only imported) in the choices module of our apps."""
    found = []
    for app in OUR_APPS:
        module = import_module(f"{app}.choices")
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, models.TextChoices) and value.__module__ == module.__name__:
                found.append(value)
    return found


SECTIONS = doc_sections()
MODELS = our_models()


def test_the_doc_is_parsed_whole():
    """The parser finds a section for at least every specification table (guards the tests below)."""
    # given / when
    documented = set(SECTIONS)
    # then
    assert set(SPEC_TABLES) <= documented
    assert all(section["columns"] for section in SECTIONS.values())


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_every_model_column_is_documented_in_its_table_section(model):
    """The section named by the model's db_table lists exactly its columns, in any order, once each."""
    # given
    table = model._meta.db_table
    assert table in SECTIONS, f"docs/data-model.md has no section '### `{table}` · {model._meta.label} ...'"
    section = SECTIONS[table]
    # when
    columns = [field.column for field in model._meta.concrete_fields]
    # then
    assert section["model"] == model._meta.label
    assert sorted(section["columns"]) == sorted(columns), (
        f"{table}: undocumented {sorted(set(columns) - set(section['columns']))}, "
        f"documented but absent {sorted(set(section['columns']) - set(columns))}"
    )


def test_every_documented_table_is_a_model():
    """No section describes a table that no model of our apps has (a renamed or removed model)."""
    # given
    tables = {model._meta.db_table for model in MODELS}
    # when
    stale = set(SECTIONS) - tables
    # then
    assert stale == set()


@pytest.mark.parametrize("table", sorted(SPEC_TABLES))
def test_every_spec_field_is_mapped_in_its_table_section(table):
    """Each specification field appears once in the 'Spec field' column of its table's section, next to its
    lower-case column."""
    # given
    spec_fields = [field[0] for field in SPEC_TABLES[table]]
    section = SECTIONS[table]
    # when
    rows = DOC.read_text(encoding="utf-8")
    # then
    assert sorted(section["spec_fields"]) == sorted(spec_fields)
    for field in spec_fields:
        assert f"| `{field.lower()}` | {field} |" in rows, f"{table}.{field} is not on the row of `{field.lower()}`"


@pytest.mark.parametrize("choices", our_text_choices(), ids=lambda choices: choices.__name__)
def test_every_text_choices_is_listed_with_all_its_values(choices):
    """Each TextChoices of our apps has a row in 'Code tables' naming exactly its stored values."""
    # given
    rows = code_table_rows()
    assert choices.__name__ in rows, f"'{choices.__name__}' has no row in docs/data-model.md '{CODE_HEADING}'"
    # when
    values_cell = [cell.strip() for cell in rows[choices.__name__].strip().strip("|").split("|")][3]
    documented = re.findall(r"`([^`]+)`", values_cell)
    # then
    assert documented == list(choices.values)
