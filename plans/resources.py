"""CSV formats of the roster: reading an examinee or supervisor file, exporting the lists, and the
one-time credential downloads.

Import does not use django-import-export's row-by-row save: a roster file is checked as a whole
(every bad line is reported, with its line number) and then written by ONE call of the roster
services (plans.services.roster), which create the progress rows and move the GROUP_PROGRESS
counters in the same transaction. So a file either imports completely or not at all. Export uses
django-import-export resources with exactly the import's columns (a file exported can be imported
again) and never the credential hash.
"""

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import resources
from import_export.fields import Field

from monitoring.messages import Msg

from .models import ID_LENGTH, PERSON_NAME_LENGTH, Examinee, Supervisor
from .selectors import (
    examinee_ids_existing_get,
    group_plan_ids_get,
    plan_ids_with_stages_get,
    supervisor_ids_existing_get,
    usernames_existing_get,
)
from .services.roster import PersonRow

# 100,000 rows of a roster are about 5 MB; a larger upload is a wrong file, not a roster.
ROSTER_FILE_MAX_BYTES = 20 * 1024 * 1024
# A cell starting with one of these is run as a formula when the CSV is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@")
PASSWORD_MAX_LENGTH = 128
UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class RosterFormat:
    """The columns of one roster file: ID, group, plan and name, plus optional columns."""

    kind: str
    id_column: str
    name_column: str
    optional_columns: tuple[str, ...] = ()

    @property
    def required_columns(self) -> tuple[str, ...]:
        return (self.id_column, "group_id", "plan_id", self.name_column)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required_columns + self.optional_columns


EXAMINEE_FORMAT = RosterFormat(kind="examinee", id_column="examinee_id", name_column="examinee_name")
SUPERVISOR_FORMAT = RosterFormat(
    kind="supervisor", id_column="supervisor_id", name_column="supervisor_name", optional_columns=("password",)
)


@dataclass(frozen=True)
class RowProblem:
    """One reason a line of the file cannot be imported."""

    line: int
    column: str
    message: str


@dataclass
class RosterReadResult:
    """What `roster_csv_read` found: the rows to create, or why the file or some lines are refused.

    `error_code` is the standard message of the refusal (IMPORT_INVALID_FILE for a file that is
    not a roster CSV at all, IMPORT_ROW_INVALID when some lines are bad) and None when the file
    can be imported.
    """

    rows: list[PersonRow] = field(default_factory=list)
    file_error: str = ""
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def error_code(self) -> Msg | None:
        if self.file_error:
            return Msg.IMPORT_INVALID_FILE
        if self.problems:
            return Msg.IMPORT_ROW_INVALID
        return None

    @property
    def is_valid(self) -> bool:
        return self.error_code is None

    @property
    def bad_line_count(self) -> int:
        return len({problem.line for problem in self.problems})


def _decode(data: bytes) -> tuple[str, str]:
    """The text of an upload, or an explanation of why it is not UTF-8 text."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        return "", _("This is an Excel workbook, not a CSV file. In Excel, save it as “CSV UTF-8”.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            data.decode("cp949")
        except UnicodeDecodeError:
            return "", _("The file is not UTF-8 text (invalid byte at position %(position)d).") % {
                "position": exc.start
            }
        return "", _(
            "The file is not UTF-8: it looks like Korean ANSI (CP949/EUC-KR), which Excel writes for "
            "“CSV (comma delimited)”. Save it as “CSV UTF-8” instead."
        )
    # Korean Excel writes a byte-order mark before UTF-8 CSV.
    return text.removeprefix(UTF8_BOM), ""


def _has_control_character(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def roster_value_problem(*, roster: RosterFormat, column: str, value: str) -> str:
    """Why `value` cannot go in a roster `column`, or "" (shared by the import and the admin add forms)."""
    is_id = column in (roster.id_column, "group_id", "plan_id")
    if column == "password":
        if len(value) > PASSWORD_MAX_LENGTH:
            return _("%(column)s is longer than %(limit)d characters.") % {
                "column": column,
                "limit": PASSWORD_MAX_LENGTH,
            }
        return ""
    if not value:
        return _("%(column)s is required.") % {"column": column}
    limit = ID_LENGTH if is_id else PERSON_NAME_LENGTH
    if len(value) > limit:
        return _("%(column)s is longer than %(limit)d characters (%(length)d).") % {
            "column": column,
            "limit": limit,
            "length": len(value),
        }
    if _has_control_character(value):
        return _("%(column)s contains a control character.") % {"column": column}
    if is_id and any(ch.isspace() for ch in value):
        return _("%(column)s must not contain spaces.") % {"column": column}
    if value.startswith(FORMULA_PREFIXES):
        return _("%(column)s must not start with =, +, - or @ (a spreadsheet would run it as a formula).") % {
            "column": column
        }
    if column == roster.id_column and roster is SUPERVISOR_FORMAT:
        try:
            UnicodeUsernameValidator()(value)
        except ValidationError:
            return _("%(column)s may contain only letters, digits and @ . + - _ (it is the sign-in name).") % {
                "column": column
            }
    return ""


def password_problem(*, person_id: str, name: str, password: str) -> str:
    User = get_user_model()
    try:
        password_validation.validate_password(password, user=User(username=person_id, first_name=name))
    except ValidationError as exc:
        return _("password: %(reasons)s") % {"reasons": " ".join(exc.messages)}
    return ""


def _read_header(header: list[str], roster: RosterFormat) -> tuple[dict[str, int], str]:
    """{column: index} of the header row, or why it is not the roster's header."""
    names = [name.strip().lower() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1 and name})
    missing = [column for column in roster.required_columns if column not in names]
    unknown = [name for name in names if name and name not in roster.columns]
    if repeated or missing or unknown:
        details = []
        if missing:
            details.append(_("missing: %(columns)s") % {"columns": ", ".join(missing)})
        if unknown:
            details.append(_("unknown: %(columns)s") % {"columns": ", ".join(unknown)})
        if repeated:
            details.append(_("repeated: %(columns)s") % {"columns": ", ".join(repeated)})
        return {}, _("Line 1 (header) must name the columns %(expected)s (%(details)s).") % {
            "expected": ", ".join(roster.columns),
            "details": "; ".join(details),
        }
    return {name: index for index, name in enumerate(names) if name}, ""


def roster_size_problem(*, size: int) -> str:
    """Why an upload of `size` bytes is refused before it is read, or ""."""
    if size > ROSTER_FILE_MAX_BYTES:
        return _("The file is larger than %(limit)d MB.") % {"limit": ROSTER_FILE_MAX_BYTES // 2**20}
    return ""


def roster_csv_read(*, data: bytes, roster: RosterFormat) -> RosterReadResult:
    """Check a roster CSV as a whole and turn it into PersonRows for the roster services.

    Accepts UTF-8 with or without a byte-order mark, columns in any order, header names in any
    case, and blank lines. Refuses the file (`file_error`) when it is too large, not UTF-8 text,
    not CSV, empty or has the wrong header; otherwise reports every bad line (`problems`, with
    the line number as a text editor or a spreadsheet shows it): a missing or over-long value, an
    ID repeated in the file or already taken, an unknown group, a plan that does not match the
    group, a plan without stages (examinees start in the first stage), a weak password.
    """
    result = RosterReadResult(file_error=roster_size_problem(size=len(data)))
    if result.file_error:
        return result
    text, error = _decode(data)
    if error:
        result.file_error = error
        return result
    if "\x00" in text:
        result.file_error = _("The file contains NUL bytes: it is not a CSV text file.")
        return result
    if not text.strip():
        result.file_error = _("The file is empty.")
        return result

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        header = next(reader)
        line = reader.line_num + 1
        for record in reader:
            records.append((line, record))
            line = reader.line_num + 1
    except csv.Error as exc:
        result.file_error = _("Line %(line)d is not valid CSV (%(reason)s).") % {
            "line": reader.line_num,
            "reason": str(exc),
        }
        return result
    positions, error = _read_header(header, roster)
    if error:
        result.file_error = error
        return result

    parsed: list[tuple[int, dict[str, str]]] = []
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue  # blank lines and Excel's trailing ",,," rows
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
            result.problems.append(
                RowProblem(
                    line,
                    "",
                    _("The line has %(found)d values but the header has %(expected)d columns.")
                    % {"found": len(record), "expected": len(header)},
                )
            )
            continue
        values = {column: (record[index].strip() if index < len(record) else "") for column, index in positions.items()}
        parsed.append((line, values))
    if not parsed and not result.problems:
        result.file_error = _("The file has a header but no rows.")
        return result

    good: list[tuple[int, dict[str, str]]] = []
    first_line_of: dict[str, int] = {}
    for line, values in parsed:
        line_problems = [
            RowProblem(line, column, message)
            for column in roster.columns
            if column in values
            and (message := roster_value_problem(roster=roster, column=column, value=values[column]))
        ]
        person_id = values[roster.id_column]
        if person_id and person_id in first_line_of:
            line_problems.append(
                RowProblem(
                    line,
                    roster.id_column,
                    _("%(column)s %(id)s repeats line %(first)d.")
                    % {"column": roster.id_column, "id": person_id, "first": first_line_of[person_id]},
                )
            )
        first_line_of.setdefault(person_id, line)
        if not line_problems and values.get("password"):
            message = password_problem(
                person_id=person_id, name=values[roster.name_column], password=values["password"]
            )
            if message:
                line_problems.append(RowProblem(line, "password", message))
        result.problems.extend(line_problems)
        if not line_problems:
            good.append((line, values))

    result.problems.extend(_check_against_database(good, roster))
    result.problems.sort(key=lambda problem: (problem.line, problem.column))
    if not result.problems:
        result.rows = [
            PersonRow(
                person_id=values[roster.id_column],
                group_id=values["group_id"],
                name=values[roster.name_column],
                plan_id=values["plan_id"],
                password=values.get("password") or None,
            )
            for _line, values in good
        ]
    return result


def _check_against_database(lines: Sequence[tuple[int, dict[str, str]]], roster: RosterFormat) -> list[RowProblem]:
    """The problems of well-formed lines that only the database can tell (a handful of queries in all)."""
    if not lines:
        return []
    person_ids = [values[roster.id_column] for _line, values in lines]
    group_plans = group_plan_ids_get(group_ids=[values["group_id"] for _line, values in lines])
    if roster is EXAMINEE_FORMAT:
        taken = examinee_ids_existing_get(examinee_ids=person_ids)
        staged_plans = plan_ids_with_stages_get(plan_ids=set(group_plans.values()))
        taken_usernames: set[str] = set()
    else:
        taken = supervisor_ids_existing_get(supervisor_ids=person_ids)
        staged_plans = set(group_plans.values())
        taken_usernames = usernames_existing_get(usernames=person_ids)
    problems = []
    for line, values in lines:
        person_id, group_id, plan_id = values[roster.id_column], values["group_id"], values["plan_id"]
        if person_id in taken:
            problems.append(
                RowProblem(
                    line,
                    roster.id_column,
                    _("%(column)s %(id)s already exists.") % {"column": roster.id_column, "id": person_id},
                )
            )
        elif person_id in taken_usernames:
            problems.append(
                RowProblem(
                    line,
                    roster.id_column,
                    _("A user account named %(id)s already exists (a supervisor signs in with this name).")
                    % {"id": person_id},
                )
            )
        if group_id not in group_plans:
            problems.append(RowProblem(line, "group_id", _("Group %(group)s does not exist.") % {"group": group_id}))
        elif group_plans[group_id] != plan_id:
            problems.append(
                RowProblem(
                    line,
                    "plan_id",
                    _("Group %(group)s belongs to plan %(group_plan)s, not %(plan)s.")
                    % {"group": group_id, "group_plan": group_plans[group_id], "plan": plan_id},
                )
            )
        elif plan_id not in staged_plans:
            problems.append(
                RowProblem(
                    line, "plan_id", _("Plan %(plan)s has no stage yet; add its stages first.") % {"plan": plan_id}
                )
            )
    return problems


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """CSV in UTF-8 with a byte-order mark, so that Korean Excel opens it in the right encoding."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")


ACCESS_CODE_COLUMNS = ("plan_id", "group_id", "examinee_id", "examinee_name", "access_code")
SUPERVISOR_PASSWORD_COLUMNS = ("plan_id", "group_id", "supervisor_id", "supervisor_name", "username", "password")


def access_codes_csv(*, issued: Iterable[tuple[Examinee, str]]) -> bytes:
    """The one-time download of freshly issued access codes (the only place they exist in clear)."""
    return _csv_bytes(
        ACCESS_CODE_COLUMNS,
        ([e.plan_id, e.group_id, e.examinee_id, e.examinee_name, code] for e, code in issued),
    )


def supervisor_passwords_csv(*, issued: Iterable[tuple[Supervisor, str]]) -> bytes:
    """The one-time download of freshly set supervisor passwords."""
    return _csv_bytes(
        SUPERVISOR_PASSWORD_COLUMNS,
        ([s.plan_id, s.group_id, s.supervisor_id, s.supervisor_name, s.user.username, pw] for s, pw in issued),
    )


class _ExportOnlyResource(resources.ModelResource):
    """A django-import-export resource used for export only: imports go through `roster_csv_read`."""

    def import_data(self, *args, **kwargs):
        raise NotImplementedError("Roster imports go through plans.resources.roster_csv_read and the roster services.")


class ExamineeResource(_ExportOnlyResource):
    """Export of examinees with the import's columns; never the access-code hash."""

    examinee_id = Field(attribute="examinee_id", column_name="examinee_id")
    group_id = Field(attribute="group_id", column_name="group_id")
    plan_id = Field(attribute="plan_id", column_name="plan_id")
    examinee_name = Field(attribute="examinee_name", column_name="examinee_name")

    class Meta:
        model = Examinee
        fields = EXAMINEE_FORMAT.columns
        export_order = EXAMINEE_FORMAT.columns
        import_id_fields = ("examinee_id",)


class SupervisorResource(_ExportOnlyResource):
    """Export of supervisors with the import's columns; never a password or its hash."""

    supervisor_id = Field(attribute="supervisor_id", column_name="supervisor_id")
    group_id = Field(attribute="group_id", column_name="group_id")
    plan_id = Field(attribute="plan_id", column_name="plan_id")
    supervisor_name = Field(attribute="supervisor_name", column_name="supervisor_name")

    class Meta:
        model = Supervisor
        fields = SUPERVISOR_FORMAT.required_columns
        export_order = SUPERVISOR_FORMAT.required_columns
        import_id_fields = ("supervisor_id",)
