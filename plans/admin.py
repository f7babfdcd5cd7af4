"""The operator admin of plans: exams, stages, groups, papers, and the roster of examinees and supervisors.

Writes go through the services: a plan, group, stage, examinee or supervisor added here is created
by plans.services.roster (so its progress rows and GROUP_PROGRESS counters exist), the CSV import
checks the whole file (plans.resources) and then calls the bulk services once, and deletes of
people recount their groups' counters in the same transaction. Progress tables are read-only.
The lists are built for 10,000 examinees: joins fixed by the selectors, no full count, 100 a page.
"""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV

from monitoring.messages import CodedError, Msg

from . import resources as roster_resources
from .choices import PROGRESS_TRANSITIONS, ProgressStatus, TransitionAction
from .models import (
    Examinee,
    ExamineeProgress,
    GroupProgress,
    Question,
    QuestionPaper,
    StatusTransition,
    Supervisor,
    SupervisorProgress,
    TestGroup,
    TestPlan,
    TestProgress,
    TestStage,
)
from .resources import (
    EXAMINEE_FORMAT,
    SUPERVISOR_FORMAT,
    ExamineeResource,
    RosterFormat,
    RosterReadResult,
    SupervisorResource,
    access_codes_csv,
    password_problem,
    roster_csv_read,
    roster_size_problem,
    roster_value_problem,
    supervisor_passwords_csv,
)
from .selectors import (
    examinee_list,
    group_list,
    person_group_ids_get,
    plan_ids_with_stages_get,
    plan_list,
    supervisor_list,
    supervisor_user_ids_get,
    usernames_existing_get,
)
from .services.access import examinee_access_codes_issue, supervisor_passwords_reset
from .services.clock import GroupStageClock, plan_group_stage_clocks_get, plan_progress_overview_get
from .services.lifecycle import (
    examinee_force_submit,
    examinee_time_extend,
    group_complete,
    group_pause,
    group_resume,
    group_stage_advance,
    group_start,
    plan_complete,
    plan_pause,
    plan_resume,
    plan_start,
)
from .services.roster import (
    PersonRow,
    examinees_bulk_create,
    group_create,
    group_progress_recount,
    plan_create,
    stage_create,
    supervisors_bulk_create,
)

LIST_PER_PAGE = 100


# Shared building blocks (also used by the answers, proctoring and monitoring admins) ----------


class ReadOnlyAdmin(admin.ModelAdmin):
    """A view-only admin: rows are written by the platform, never by hand.

    Operators may read (view permission) but not add, change or delete; such rows still go
    when their examinee, group or plan is deleted (see `cascade_only_perms_discard`).
    """

    cascade_only = True
    list_per_page = LIST_PER_PAGE

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ExactSearchMixin:
    """Search by exact IDs, so that a table of millions of rows answers from its index.

    The admin's own `search_fields` use (i)contains or iexact, which PostgreSQL cannot answer
    from a b-tree index; `exact_search_fields` are matched with `=` instead.
    """

    exact_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or not self.exact_search_fields:
            return queryset, False
        condition = None
        for field_name in self.exact_search_fields:
            q = Q(**{field_name: term})
            condition = q if condition is None else condition | q
        return queryset.filter(condition), False


def cascade_only_perms_discard(admin_site, perms_needed: set) -> set:
    """`perms_needed` without the read-only tables, which go with their parent by design."""
    read_only_names = {
        str(model._meta.verbose_name)
        for model, model_admin in admin_site._registry.items()
        if getattr(model_admin, "cascade_only", False)
    }
    return {name for name in perms_needed if str(name) not in read_only_names}


class PlanFilter(admin.SimpleListFilter):
    """Filter by plan (`?plan=<PLAN_ID>`) on any table with a `plan` key."""

    title = _("exam plan")
    parameter_name = "plan"

    def lookups(self, request, model_admin):
        return [(plan_id, f"{name} ({plan_id})") for plan_id, name in TestPlan.objects.values_list("pk", "plan_name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(plan_id=self.value())
        return queryset


class GroupFilter(admin.SimpleListFilter):
    """Filter by group (`?group=<GROUP_ID>`), listing only the chosen plan's groups when a plan is chosen."""

    title = _("exam group")
    parameter_name = "group"

    def lookups(self, request, model_admin):
        groups = TestGroup.objects.order_by("plan_id", "group_id")
        plan_id = request.GET.get(PlanFilter.parameter_name)
        if plan_id:
            groups = groups.filter(plan_id=plan_id)
        return [(group_id, f"{name} ({group_id})") for group_id, name in groups.values_list("pk", "group_name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(group_id=self.value())
        return queryset


def changelist_link(model, label: str, **filters: str) -> str:
    """An HTML link to a model's admin list filtered by `filters` (`plan`, `group`, ...)."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def _adopt(obj, created) -> None:
    """Make the admin's unsaved instance stand for the row a service created (for its log and redirect)."""
    obj.pk = created.pk
    obj._state.adding = False
    obj._state.db = created._state.db


def _disable_key_on_change(form: forms.ModelForm, key: str) -> None:
    # Editing a primary key in the admin would create a second row, not rename the first.
    if key in form.fields and form.instance is not None and not form.instance._state.adding:
        form.fields[key].disabled = True


def _coded_error_text(error: CodedError) -> str:
    return f"{error.code} {error.message.text()}" + (f" ({error.detail})" if error.detail else "")


def _actor(request: HttpRequest) -> str:
    """Who the audit trail (STATUS_TRANSITION.actor) names for an operator's admin action."""
    return f"admin:{request.user.get_username()}"


def action_confirm_response(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    warnings: list[str],
    form: forms.Form | None = None,
    submit_label: str = "",
) -> TemplateResponse:
    """The intermediate page of an admin action: what will happen, the selection, optional inputs.

    Posting it repeats the action with `confirm=yes` on the same URL, so the list's filters and
    "select all" carry over.
    """
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "action": action,
        "count": queryset.count(),
        "sample": list(queryset[:20]),
        "warnings": warnings,
        "form": form,
        "submit_label": submit_label or gettext("Yes, I'm sure"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/plans/action_confirm.html", context)


def run_each(model_admin: admin.ModelAdmin, request: HttpRequest, objects, call, *, done: str) -> None:
    """Call a lifecycle service for each selected object (one transaction each) and report the outcome.

    A refusal of one object (an illegal transition) does not stop the others; each refusal is
    shown with its standard message code.
    """
    succeeded = []
    for obj in objects:
        try:
            call(obj)
        except CodedError as exc:
            model_admin.message_user(request, f"{obj.pk}: {_coded_error_text(exc)}", messages.ERROR)
        else:
            succeeded.append(str(obj.pk))
    if succeeded:
        model_admin.message_user(request, f"{done}: {', '.join(succeeded)}", messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=500, required=False)


class ExtraTimeForm(forms.Form):
    minutes = forms.IntegerField(label=_("extra minutes"), min_value=1, max_value=24 * 60)
    reason = forms.CharField(label=_("reason"), max_length=500, required=False)


# The operator's control page of a plan ------------------------------------------------------
# One page per plan, linked from the plan list and the plan's change page: the plan's status,
# its stages, and every group's status, head counts, stage and remaining time, with buttons that
# call the operator API (plans.api) from the admin session (X-CSRFToken on every POST). The page
# polls the API's plan overview and `control/clocks/` every CONTROL_POLL_MILLISECONDS; the
# script is static/operator/js/control.js, its words come from `control_strings()` in the
# active language.

CONTROL_POLL_MILLISECONDS = 2000
CONTROL_ACTIONS = (
    TransitionAction.START,
    TransitionAction.PAUSE,
    TransitionAction.RESUME,
    TransitionAction.COMPLETE,
)
CONTROL_ADVANCE = "ADVANCE"
# group_stage_advance releases a waiting stage only while the group runs.
CONTROL_ADVANCE_SOURCES = (ProgressStatus.IN_PROGRESS,)


def control_transitions() -> dict[str, list[str]]:
    """{"start": [statuses it may start from], ...} for the page's buttons, from plans.choices' table
    (the server still decides: a refused click shows the service's code)."""
    table = {action.lower(): sorted(PROGRESS_TRANSITIONS[action].sources) for action in CONTROL_ACTIONS}
    return table | {CONTROL_ADVANCE.lower(): list(CONTROL_ADVANCE_SOURCES)}


def control_strings() -> dict[str, str]:
    """The words of static/operator/js/control.js, translated now (`{name}` placeholders are the script's)."""
    return {
        "target_plan": gettext("Exam {id}"),
        "target_group": gettext("Group {id}"),
        "sending": gettext("{target}: sending…"),
        "done_start": gettext("{target}: started."),
        "done_pause": gettext("{target}: paused."),
        "done_resume": gettext("{target}: resumed."),
        "done_complete": gettext("{target}: completed."),
        "done_advance": gettext("{target}: moved on to the next stage (examinees: {count})."),
        "refused": gettext("{target}: refused. {error}"),
        "confirm_pause_title": gettext("Pause {target}?"),
        "confirm_pause_body": gettext(
            "Every clock in it stops and the examinees' pages block input until it is resumed. "
            "The remaining time is kept exactly."
        ),
        "confirm_complete_title": gettext("Complete {target}?"),
        "confirm_complete_body": gettext(
            "It ends now and every examinee still sitting has the sheet submitted. This cannot be undone."
        ),
        "confirm_pause_button": gettext("Pause"),
        "confirm_complete_button": gettext("Complete"),
        "reason_required": gettext("Please give a reason."),
        "error_with_code": gettext("{code} {message}"),
        "error_detail": gettext("({detail})"),
        "error_unknown": gettext("The server answered with an error."),
        "error_network": gettext("The server could not be reached."),
        "error_session": gettext("Your sign-in has ended. Reload the page and sign in again."),
        "poll_ok": gettext("Live: updated {time}"),
        "poll_failed": gettext("Live update failed: {error} Retrying."),
        "stage_running": gettext("{stage}: {remaining} left (examinees: {count})"),
        "stage_paused": gettext("{stage}: {remaining} left, paused (examinees: {count})"),
        "stage_extra": gettext("up to {remaining} with extra time"),
        "stage_moving": gettext("{stage}: time is up, moving on (examinees: {count})"),
        "stage_waiting": gettext("{stage}: time is up, waiting to be moved on (examinees: {count})"),
        "no_clock": gettext("No clock running"),
    }


def _remaining_text(milliseconds: int) -> str:
    """A remaining time as "1:02:03" or "12:34", seconds rounded up (the exam page's formatRemaining)."""
    seconds = -(-milliseconds // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _clock_line(clock: GroupStageClock, strings: dict[str, str]) -> str:
    """One stage of a group as the page shows it (control.js `clockLine` says the same)."""
    values = {
        "stage": clock.stage_name,
        "count": clock.examinees,
        "remaining": _remaining_text(clock.first_remaining_ms),
    }
    if clock.first_remaining_ms == 0:
        key = "stage_moving" if clock.auto_move else "stage_waiting"
    else:
        key = "stage_paused" if clock.paused else "stage_running"
    line = _fill(strings[key], values)
    if clock.last_remaining_ms > clock.first_remaining_ms:
        line += " (" + _fill(strings["stage_extra"], {"remaining": _remaining_text(clock.last_remaining_ms)}) + ")"
    return line


def _fill(text: str, values: dict) -> str:
    """Fill the script's `{name}` placeholders (str.format would choke on other braces)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _operator_view(admin_site, view):
    """`admin_view`, except that a signed-in user who is not staff is refused (403) instead of
    being sent to the admin's sign-in page."""
    admin_protected = admin_site.admin_view(view)

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not request.user.is_staff:
            raise PermissionDenied
        return admin_protected(request, *args, **kwargs)

    return inner


class PlanControlAdminMixin:
    """The control page of TestPlanAdmin: `<plan>/control/` and its JSON `<plan>/control/clocks/`."""

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/control/",
                _operator_view(self.admin_site, self.control_view),
                name="{}_{}_control".format(*info),
            ),
            path(
                "<path:object_id>/control/clocks/",
                _operator_view(self.admin_site, self.control_clocks_view),
                name="{}_{}_control_clocks".format(*info),
            ),
        ] + super().get_urls()

    @admin.display(description=_("control"))
    def control_link(self, obj: TestPlan) -> str:
        if obj.pk is None or obj._state.adding:
            return "-"
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_control", args=[quote(obj.pk)])
        return format_html('<a href="{}">{}</a>', url, gettext("Control"))

    def _control_plan(self, request: HttpRequest, object_id: str) -> TestPlan | None:
        plan = self.get_object(request, unquote(object_id))
        if plan is not None and not self.has_view_or_change_permission(request, plan):
            raise PermissionDenied
        return plan

    def control_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page: drawn complete from the database, then kept live by the script."""
        plan = self._control_plan(request, object_id)
        if plan is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        try:
            overview = plan_progress_overview_get(plan_id=plan.pk)
        except CodedError as exc:
            raise Http404(_coded_error_text(exc)) from exc
        now = timezone.now()
        stages = list(plan.stages.select_related("test_code").order_by("stage_order"))
        strings = control_strings()
        clock_lines: dict[str, list[str]] = {}
        for clock in plan_group_stage_clocks_get(plan_id=plan.pk, now=now):
            clock_lines.setdefault(clock.group_id, []).append(_clock_line(clock, strings))
        can_change = self.has_change_permission(request, plan)
        labels = {action: str(TransitionAction(action).label) for action in CONTROL_ACTIONS}
        labels[CONTROL_ADVANCE] = gettext("Move on")
        transitions = control_transitions()

        def buttons(status: str | None, scope: str) -> list[tuple[str, str, bool]]:
            return [
                (action.lower(), labels[action], status in transitions[action.lower()])
                for action in labels
                if scope == "group" or action != CONTROL_ADVANCE
            ]

        rows = [
            {
                "group_id": progress.group_id,
                "group": progress.group,
                "progress": progress,
                "clock_lines": clock_lines.get(progress.group_id, []),
                "buttons": buttons(progress.status_code, "group"),
            }
            for progress in overview.groups
        ]
        # The markup of a group that appears after the page was drawn: a <template> the script clones.
        blank_row = {"group_id": "", "group": None, "progress": None, "blank": True, "buttons": buttons(None, "group")}
        group_placeholder = "__GROUP__"
        config = {
            "planId": plan.pk,
            "pollMilliseconds": CONTROL_POLL_MILLISECONDS,
            "progressUrl": reverse("plans-api:plan-progress", kwargs={"plan_id": plan.pk}),
            "clocksUrl": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_control_clocks", args=[quote(plan.pk)]
            ),
            "planActionUrls": {
                action.lower(): reverse(f"plans-api:plan-{action.lower()}", kwargs={"plan_id": plan.pk})
                for action in CONTROL_ACTIONS
            },
            "groupActionUrls": {
                action: reverse(f"plans-api:group-{action}", kwargs={"group_id": group_placeholder})
                for action in transitions
            },
            "groupPlaceholder": group_placeholder,
            "csrfToken": get_token(request),
            "csrfCookieName": settings.CSRF_COOKIE_NAME,
            "canChange": can_change,
            "transitions": transitions,
            "statusLabels": {value: str(label) for value, label in ProgressStatus.choices},
        }
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Control: %(plan)s") % {"plan": plan},
            "opts": self.opts,
            "plan": plan,
            "progress": overview.progress,
            "plan_buttons": buttons(overview.progress.status_code, "plan"),
            "stages": [(stage, _remaining_text(stage.time_limit * 1000)) for stage in stages],
            "rows": [*rows, blank_row],
            "can_change": can_change,
            "config": config,
            "strings": strings,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/plans/control.html", context)

    def control_clocks_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """GET -> {"server_time", "clocks": [...]}: every group's stage(s) and remaining time."""
        plan = self._control_plan(request, object_id)
        if plan is None:
            error = CodedError(Msg.EXAM_NOT_FOUND, detail=f"plan {unquote(object_id)}")
            return JsonResponse(error.as_reply(), status=error.message.http_status)
        now = timezone.now()
        clocks = plan_group_stage_clocks_get(plan_id=plan.pk, now=now)
        return JsonResponse(
            {
                "server_time": now.isoformat(),
                "clocks": [
                    {
                        "group_id": clock.group_id,
                        "stage_id": clock.stage_id,
                        "stage_order": clock.stage_order,
                        "stage_name": clock.stage_name,
                        "auto_move": clock.auto_move,
                        "examinees": clock.examinees,
                        "paused": clock.paused,
                        "first_deadline": clock.first_deadline.isoformat(),
                        "last_deadline": clock.last_deadline.isoformat(),
                        "first_remaining_ms": clock.first_remaining_ms,
                        "last_remaining_ms": clock.last_remaining_ms,
                    }
                    for clock in clocks
                ],
            }
        )


# Plans, stages, groups -----------------------------------------------------------------------


class TestStageInlineForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _disable_key_on_change(self, "stage_id")


class TestStageInline(admin.TabularInline):
    model = TestStage
    form = TestStageInlineForm
    fields = ("stage_order", "stage_id", "stage_name", "time_limit", "auto_move_yn", "test_code", "test_time")
    ordering = ("stage_order",)
    extra = 0


class TestGroupInlineForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _disable_key_on_change(self, "group_id")


class TestGroupInline(admin.TabularInline):
    model = TestGroup
    form = TestGroupInlineForm
    fields = ("group_id", "group_name", "start_datetime", "end_datetime", "group_desc")
    extra = 0
    show_change_link = True


class TestPlanForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _disable_key_on_change(self, "plan_id")


@admin.register(TestPlan)
class TestPlanAdmin(PlanControlAdminMixin, admin.ModelAdmin):
    form = TestPlanForm
    list_display = (
        "plan_id",
        "plan_name",
        "start_datetime",
        "end_datetime",
        "progress_status",
        "links",
        "control_link",
    )
    list_select_related = ("progress",)
    list_filter = ("progress__status_code",)
    search_fields = ("plan_id", "plan_name")
    ordering = ("-start_datetime", "plan_id")
    date_hierarchy = "start_datetime"
    list_per_page = LIST_PER_PAGE
    fields = ("plan_id", "plan_name", "start_datetime", "end_datetime", "progress_status", "links", "control_link")
    readonly_fields = ("progress_status", "links", "control_link")
    inlines = (TestStageInline, TestGroupInline)

    actions = ("start_plans", "pause_plans", "resume_plans", "complete_plans")

    @admin.action(description=_("Start the exam"), permissions=["change"])
    def start_plans(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda plan: plan_start(plan=plan, actor=_actor(request)),
            done=gettext("Started"),
        )

    @admin.action(description=_("Pause the exam"), permissions=["change"])
    def pause_plans(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda plan: plan_pause(plan=plan, actor=_actor(request)),
            done=gettext("Paused"),
        )

    @admin.action(description=_("Resume the exam"), permissions=["change"])
    def resume_plans(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda plan: plan_resume(plan=plan, actor=_actor(request)),
            done=gettext("Resumed"),
        )

    @admin.action(description=_("Complete the exam (submits every open sheet)"), permissions=["change"])
    def complete_plans(self, request, queryset):
        form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            return action_confirm_response(
                self,
                request,
                queryset,
                action="complete_plans",
                title=gettext("Complete the exam"),
                warnings=[
                    gettext(
                        "Every group ends now and every examinee still sitting has the sheet submitted. "
                        "This cannot be undone."
                    )
                ],
                form=form,
            )
        reason = form.cleaned_data["reason"]
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda plan: plan_complete(plan=plan, actor=_actor(request), reason=reason),
            done=gettext("Completed"),
        )
        return None

    def get_queryset(self, request):
        return plan_list()

    @admin.display(description=_("status"), ordering="progress__status_code")
    def progress_status(self, obj: TestPlan) -> str:
        progress = getattr(obj, "progress", None)
        return progress.get_status_code_display() if progress else "-"

    @admin.display(description=_("roster"))
    def links(self, obj: TestPlan) -> str:
        if obj.pk is None or obj._state.adding:
            return "-"
        return format_html(
            "{} · {} · {}",
            changelist_link(TestGroup, gettext("groups"), plan=obj.pk),
            changelist_link(Examinee, gettext("examinees"), plan=obj.pk),
            changelist_link(Supervisor, gettext("supervisors"), plan=obj.pk),
        )

    def save_model(self, request, obj: TestPlan, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = plan_create(
            plan_id=obj.plan_id,
            plan_name=obj.plan_name,
            start_datetime=obj.start_datetime,
            end_datetime=obj.end_datetime,
        )
        _adopt(obj, created)

    def save_formset(self, request, form, formset, change: bool) -> None:
        """New stages and groups are created by the services (a group needs its GROUP_PROGRESS row)."""
        plan = form.instance
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for instance in instances:
            if not instance._state.adding:
                instance.save()
            elif isinstance(instance, TestGroup):
                _adopt(
                    instance,
                    group_create(
                        plan=plan,
                        group_id=instance.group_id,
                        group_name=instance.group_name,
                        start_datetime=instance.start_datetime,
                        end_datetime=instance.end_datetime,
                        group_desc=instance.group_desc,
                    ),
                )
            elif isinstance(instance, TestStage):
                _adopt(
                    instance,
                    stage_create(
                        plan=plan,
                        stage_id=instance.stage_id,
                        stage_name=instance.stage_name,
                        time_limit=instance.time_limit,
                        stage_order=instance.stage_order,
                        auto_move=instance.auto_move_yn == "Y",
                        paper=instance.test_code,
                        test_time=instance.test_time,
                    ),
                )
            else:
                instance.save()
        formset.save_m2m()

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, cascade_only_perms_discard(self.admin_site, perms_needed), protected


class SupervisorInline(admin.TabularInline):
    """The supervisors of a group, read-only: they are added by import or on the supervisor page."""

    model = Supervisor
    fields = ("supervisor_id", "supervisor_name", "sign_in", "connection")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("progress", "user")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("sign-in user"))
    def sign_in(self, obj: Supervisor) -> str:
        return obj.user.username if obj.user_id else "-"

    @admin.display(description=_("connection"))
    def connection(self, obj: Supervisor) -> str:
        progress = getattr(obj, "progress", None)
        return progress.get_conn_status_code_display() if progress else "-"


class TestGroupForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _disable_key_on_change(self, "group_id")
        _disable_key_on_change(self, "plan")


@admin.register(TestGroup)
class TestGroupAdmin(admin.ModelAdmin):
    form = TestGroupForm
    list_display = (
        "group_id",
        "group_name",
        "plan",
        "start_datetime",
        "end_datetime",
        "progress_status",
        "assigned_examinees",
        "connected_examinees",
        "submitted_examinees",
        "assigned_supervisors",
        "examinees_link",
    )
    list_select_related = ("plan", "progress")
    list_filter = (PlanFilter, "progress__status_code")
    search_fields = ("group_id", "group_name")
    ordering = ("plan_id", "group_id")
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    fields = (
        "group_id",
        "plan",
        "group_name",
        "group_desc",
        "start_datetime",
        "end_datetime",
        "progress_status",
        "counters",
        "examinees_link",
    )
    readonly_fields = ("progress_status", "counters", "examinees_link")
    inlines = (SupervisorInline,)

    actions = ("start_groups", "pause_groups", "resume_groups", "advance_groups", "complete_groups")

    @admin.action(description=_("Start the group (plan already running)"), permissions=["change"])
    def start_groups(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda group: group_start(group=group, actor=_actor(request)),
            done=gettext("Started"),
        )

    @admin.action(description=_("Pause the group"), permissions=["change"])
    def pause_groups(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda group: group_pause(group=group, actor=_actor(request)),
            done=gettext("Paused"),
        )

    @admin.action(description=_("Resume the group"), permissions=["change"])
    def resume_groups(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda group: group_resume(group=group, actor=_actor(request)),
            done=gettext("Resumed"),
        )

    @admin.action(description=_("Move waiting examinees to the next stage"), permissions=["change"])
    def advance_groups(self, request, queryset):
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda group: group_stage_advance(group=group, actor=_actor(request)),
            done=gettext("Moved on"),
        )

    @admin.action(description=_("Complete the group (submits every open sheet)"), permissions=["change"])
    def complete_groups(self, request, queryset):
        form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            return action_confirm_response(
                self,
                request,
                queryset,
                action="complete_groups",
                title=gettext("Complete the group"),
                warnings=[
                    gettext(
                        "The selected groups end now and every examinee still sitting in them has the sheet submitted. "
                        "This cannot be undone."
                    )
                ],
                form=form,
            )
        reason = form.cleaned_data["reason"]
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda group: group_complete(group=group, actor=_actor(request), reason=reason),
            done=gettext("Completed"),
        )
        return None

    def get_queryset(self, request):
        return group_list()

    @staticmethod
    def _progress(obj: TestGroup) -> GroupProgress | None:
        return getattr(obj, "progress", None) if obj.pk and not obj._state.adding else None

    @admin.display(description=_("status"), ordering="progress__status_code")
    def progress_status(self, obj: TestGroup) -> str:
        progress = self._progress(obj)
        return progress.get_status_code_display() if progress else "-"

    @admin.display(description=_("assigned examinees"), ordering="progress__assigned_examinee_cnt")
    def assigned_examinees(self, obj: TestGroup) -> int | str:
        progress = self._progress(obj)
        return progress.assigned_examinee_cnt if progress else "-"

    @admin.display(description=_("connected examinees"), ordering="progress__connected_examinee_cnt")
    def connected_examinees(self, obj: TestGroup) -> int | str:
        progress = self._progress(obj)
        return progress.connected_examinee_cnt if progress else "-"

    @admin.display(description=_("submitted examinees"), ordering="progress__submitted_examinee_cnt")
    def submitted_examinees(self, obj: TestGroup) -> int | str:
        progress = self._progress(obj)
        return progress.submitted_examinee_cnt if progress else "-"

    @admin.display(description=_("assigned supervisors"), ordering="progress__assigned_supervisor_cnt")
    def assigned_supervisors(self, obj: TestGroup) -> int | str:
        progress = self._progress(obj)
        return progress.assigned_supervisor_cnt if progress else "-"

    @admin.display(description=_("head counts"))
    def counters(self, obj: TestGroup) -> str:
        progress = self._progress(obj)
        if progress is None:
            return "-"
        return gettext(
            "examinees: %(assigned)d assigned, %(connected)d connected, %(submitted)d submitted; "
            "supervisors: %(sup_assigned)d assigned, %(sup_connected)d connected"
        ) % {
            "assigned": progress.assigned_examinee_cnt,
            "connected": progress.connected_examinee_cnt,
            "submitted": progress.submitted_examinee_cnt,
            "sup_assigned": progress.assigned_supervisor_cnt,
            "sup_connected": progress.connected_supervisor_cnt,
        }

    @admin.display(description=_("examinees"))
    def examinees_link(self, obj: TestGroup) -> str:
        # A group can hold thousands of examinees: link to the filtered list instead of an inline.
        progress = self._progress(obj)
        if progress is None:
            return "-"
        label = ngettext("%(count)d examinee", "%(count)d examinees", progress.assigned_examinee_cnt) % {
            "count": progress.assigned_examinee_cnt
        }
        return changelist_link(Examinee, label, plan=obj.plan_id, group=obj.pk)

    def save_model(self, request, obj: TestGroup, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = group_create(
            plan=obj.plan,
            group_id=obj.group_id,
            group_name=obj.group_name,
            start_datetime=obj.start_datetime,
            end_datetime=obj.end_datetime,
            group_desc=obj.group_desc,
        )
        _adopt(obj, created)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, cascade_only_perms_discard(self.admin_site, perms_needed), protected


class QuestionInline(admin.TabularInline):
    model = Question
    fields = ("question_no", "question_id", "question_type", "body", "choices", "max_length", "points")
    ordering = ("question_no",)
    extra = 0
    formfield_overrides = {
        Question._meta.get_field("body").__class__: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})},
        Question._meta.get_field("choices").__class__: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})},
    }


@admin.register(QuestionPaper)
class QuestionPaperAdmin(admin.ModelAdmin):
    list_display = ("test_code", "paper_name")
    search_fields = ("test_code", "paper_name")
    ordering = ("test_code",)
    list_per_page = LIST_PER_PAGE
    inlines = (QuestionInline,)


# The roster: examinees and supervisors --------------------------------------------------------


class RosterImportForm(forms.Form):
    csv_file = forms.FileField(label=_("CSV file"), allow_empty_file=True)
    check_only = forms.BooleanField(
        label=_("Check only (import nothing)"),
        required=False,
        help_text=_("Reports every problem of the file without importing it."),
    )


class HasAccessCodeFilter(admin.SimpleListFilter):
    title = _("access code")
    parameter_name = "access_code"

    def lookups(self, request, model_admin):
        return [("yes", _("issued")), ("no", _("not issued"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(access_code_hash="")
        if self.value() == "no":
            return queryset.filter(access_code_hash="")
        return queryset


class RosterAdmin(ExportMixin, admin.ModelAdmin):
    """What examinee and supervisor admins share: CSV import through the services, CSV export,
    fast lists, and deletes that keep the GROUP_PROGRESS counters true.
    """

    roster: RosterFormat
    import_export_change_list_template = "admin/plans/roster/change_list.html"
    import_template = "admin/plans/roster/import.html"
    export_formats = [CSV]
    skip_export_form = True
    # Excel (Korean Windows) reads a CSV as UTF-8 only when it starts with a byte-order mark.
    to_encoding = "utf-8-sig"
    list_per_page = LIST_PER_PAGE
    list_max_show_all = 1000
    show_full_result_count = False

    def roster_bulk_create(self, rows: list[PersonRow]) -> list:
        raise NotImplementedError

    def get_urls(self):
        info = self.get_model_info()
        return [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="{}_{}_import_csv".format(*info),
            ),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["has_import_permission"] = self.has_add_permission(request)
        return super().changelist_view(request, extra_context)

    def get_export_filename(self, request, queryset, file_format):
        return f"{self.roster.kind}s-{timezone.localtime():%Y%m%d-%H%M}.csv"

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a roster CSV: every bad line is listed, and nothing is imported unless all are good."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RosterImportForm(request.POST or None, request.FILES or None)
        result = None
        error_text = ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["csv_file"]
            # An oversized upload is refused without reading it into memory.
            too_large = roster_size_problem(size=upload.size)
            result = RosterReadResult(file_error=too_large) if too_large else None
            result = result or roster_csv_read(data=upload.read(), roster=self.roster)
            if result.is_valid and not form.cleaned_data["check_only"]:
                try:
                    with transaction.atomic():
                        created = self.roster_bulk_create(result.rows)
                        self._log_import(request, created)
                except CodedError as exc:
                    # Another import or edit took an ID or a group between the check and the write.
                    error_text = _coded_error_text(exc)
                except IntegrityError:
                    error_text = "{} {} ({})".format(
                        Msg.IMPORT_ROW_INVALID.code,
                        Msg.IMPORT_ROW_INVALID.text(),
                        gettext("another change created some of these IDs at the same moment; try again"),
                    )
                else:
                    groups = sorted({row.group_id for row in result.rows})
                    self.message_user(
                        request,
                        ngettext(
                            "Imported %(count)d %(kind)s into %(groups)d group(s).",
                            "Imported %(count)d %(kind)s into %(groups)d group(s).",
                            len(created),
                        )
                        % {"count": len(created), "kind": self.opts.verbose_name_plural, "groups": len(groups)},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:{}_{}_changelist".format(*self.get_model_info())))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import %(kind)s from CSV") % {"kind": self.opts.verbose_name_plural},
            "opts": self.opts,
            "form": form,
            "result": result,
            "error_text": error_text,
            "error_message": result.error_code if result is not None else None,
            "columns": self.roster.columns,
            "required_columns": self.roster.required_columns,
            "max_megabytes": roster_resources.ROSTER_FILE_MAX_BYTES // 2**20,
            "checked_ok": bool(result and result.is_valid and form.cleaned_data.get("check_only")),
            "has_view_permission": self.has_view_permission(request),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.import_template, context)

    def _log_import(self, request: HttpRequest, created: list) -> None:
        from django.contrib.admin.models import ADDITION, LogEntry

        if created:
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=created,
                action_flag=ADDITION,
                change_message=gettext("Imported from CSV."),
                single_object=len(created) == 1,
            )

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            group_id = obj.group_id
            super().delete_model(request, obj)
            group_progress_recount(group_ids=[group_id])

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            group_ids = person_group_ids_get(queryset=queryset)
            super().delete_queryset(request, queryset)
            group_progress_recount(group_ids=group_ids)

    def get_deleted_objects(self, objs, request):
        """A summary instead of Django's tree of every related row.

        Django lists (and loads) every answer, history row and capture of every selected person,
        which for a whole group of examinees is millions of rows; here each related table is
        counted with one query. The read-only tables go with their person by design.
        """
        queryset = objs if isinstance(objs, QuerySet) else self.model.objects.filter(pk__in=[o.pk for o in objs])
        total = queryset.count()
        shown = list(queryset[:20])
        deleted = [format_html("{}: {}", capfirst(self.opts.verbose_name), obj) for obj in shown]
        if total > len(shown):
            deleted.append(gettext("… and %(count)d more") % {"count": total - len(shown)})
        model_count = {self.opts.verbose_name_plural: total}
        perms_needed = set()
        for relation in self.opts.related_objects:
            related_model = relation.related_model
            count = related_model._base_manager.filter(**{f"{relation.field.name}__in": queryset}).count()
            if not count:
                continue
            model_count[related_model._meta.verbose_name_plural] = count
            related_admin = self.admin_site._registry.get(related_model)
            if related_admin is not None and not related_admin.has_delete_permission(request):
                perms_needed.add(related_model._meta.verbose_name)
        return deleted, model_count, cascade_only_perms_discard(self.admin_site, perms_needed), []

    @staticmethod
    def _credentials_download(content: bytes, filename: str) -> HttpResponse:
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        # The file holds secrets: no proxy or browser cache may keep a copy.
        response["Cache-Control"] = "no-store, private"
        return response


class ExamineeAddForm(forms.ModelForm):
    class Meta:
        model = Examinee
        fields = ("examinee_id", "group", "examinee_name")

    def clean(self):
        cleaned = super().clean()
        for column in ("examinee_id", "examinee_name"):
            value = (cleaned.get(column) or "").strip()
            problem = roster_value_problem(roster=EXAMINEE_FORMAT, column=column, value=value)
            if problem:
                self.add_error(column, problem)
            cleaned[column] = value
        group = cleaned.get("group")
        if group is not None and group.plan_id not in plan_ids_with_stages_get(plan_ids=[group.plan_id]):
            self.add_error(
                "group", gettext("Plan %(plan)s has no stage yet; add its stages first.") % {"plan": group.plan_id}
            )
        return cleaned


@admin.register(Examinee)
class ExamineeAdmin(RosterAdmin):
    roster = EXAMINEE_FORMAT
    resource_classes = [ExamineeResource]
    list_display = (
        "examinee_id",
        "examinee_name",
        "plan",
        "group",
        "has_access_code",
        "access_code_issued_at",
        "exam_status",
        "connection",
    )
    list_select_related = ("plan", "group", "progress")
    list_filter = (
        PlanFilter,
        GroupFilter,
        HasAccessCodeFilter,
        "progress__exam_status_code",
        "progress__conn_status_code",
    )
    search_fields = ("examinee_id", "examinee_name")
    search_help_text = _("Examinee ID or name (part of it).")
    ordering = ("plan_id", "group_id", "examinee_id")
    actions = ("issue_access_codes", "extend_time", "force_submit")
    readonly_fields = (
        "plan",
        "has_access_code",
        "access_code_issued_at",
        "exam_status",
        "connection",
        "current_stage",
        "ip_address",
    )

    def get_queryset(self, request):
        return examinee_list()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ExamineeAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("examinee_id", "group", "examinee_name")
        return ("examinee_id", "group", "examinee_name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Moving an examinee to another group or plan is not supported here: their progress and
        # answers carry the group; delete and import again instead.
        return ("examinee_id", "group", *self.readonly_fields)

    @staticmethod
    def _progress(obj: Examinee) -> ExamineeProgress | None:
        return getattr(obj, "progress", None) if obj.pk and not obj._state.adding else None

    @admin.display(description=_("access code"), boolean=True, ordering="access_code_hash")
    def has_access_code(self, obj: Examinee) -> bool:
        return obj.has_access_code

    @admin.display(description=_("exam status"), ordering="progress__exam_status_code")
    def exam_status(self, obj: Examinee) -> str:
        progress = self._progress(obj)
        return progress.get_exam_status_code_display() if progress else "-"

    @admin.display(description=_("connection"), ordering="progress__conn_status_code")
    def connection(self, obj: Examinee) -> str:
        progress = self._progress(obj)
        return progress.get_conn_status_code_display() if progress else "-"

    @admin.display(description=_("current stage"))
    def current_stage(self, obj: Examinee) -> str:
        progress = self._progress(obj)
        return str(progress.current_stage) if progress else "-"

    @admin.display(description=_("IP address"))
    def ip_address(self, obj: Examinee) -> str:
        progress = self._progress(obj)
        return (progress.ip_addr or "-") if progress else "-"

    def roster_bulk_create(self, rows: list[PersonRow]) -> list[Examinee]:
        return examinees_bulk_create(rows=rows)

    @admin.action(description=_("Give extra time in the current stage"), permissions=["change"])
    def extend_time(self, request: HttpRequest, queryset: QuerySet[Examinee]) -> HttpResponse | None:
        """An accommodation: move only the selected examinees' deadlines, recorded with who and why."""
        form = ExtraTimeForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            return action_confirm_response(
                self,
                request,
                queryset,
                action="extend_time",
                title=gettext("Give extra time"),
                warnings=[
                    gettext("Only the selected examinees' current stage gets longer; everyone else keeps their time.")
                ],
                form=form,
            )
        seconds = form.cleaned_data["minutes"] * 60
        reason = form.cleaned_data["reason"]
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda examinee: examinee_time_extend(
                examinee_id=examinee.pk, seconds=seconds, actor=_actor(request), reason=reason
            ),
            done=gettext("Extra time given"),
        )
        return None

    @admin.action(description=_("Submit the sheet now (force submit)"), permissions=["change"])
    def force_submit(self, request: HttpRequest, queryset: QuerySet[Examinee]) -> HttpResponse | None:
        """End the selected examinees' sittings now with their answers as they stand."""
        form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            return action_confirm_response(
                self,
                request,
                queryset,
                action="force_submit",
                title=gettext("Submit the sheet now"),
                warnings=[
                    gettext(
                        "The selected examinees' sheets are submitted now with their answers as they stand. "
                        "This cannot be undone."
                    )
                ],
                form=form,
            )
        reason = form.cleaned_data["reason"]
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda examinee: examinee_force_submit(examinee_id=examinee.pk, actor=_actor(request), reason=reason),
            done=gettext("Submitted"),
        )
        return None

    def save_model(self, request, obj: Examinee, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row = PersonRow(person_id=obj.examinee_id, group_id=obj.group_id, name=obj.examinee_name)
        created = examinees_bulk_create(rows=[row])[0]
        obj.plan_id = created.plan_id
        _adopt(obj, created)

    @admin.action(description=_("Issue access codes (download CSV once)"), permissions=["change"])
    def issue_access_codes(self, request: HttpRequest, queryset: QuerySet[Examinee]) -> HttpResponse | None:
        """Confirm, then issue fresh codes and return them as the only copy in clear."""
        if request.POST.get("confirm") != "yes":
            already = queryset.exclude(access_code_hash="").count()
            warnings = [
                gettext(
                    "Access codes are stored only as a keyed hash: this download is the only time they exist "
                    "in clear. Keep the file safe and hand the codes out; nobody can show them again."
                ),
                gettext("Issuing again replaces a code: the previous code stops working at once."),
            ]
            if already:
                warnings.append(
                    ngettext(
                        "%(count)d selected examinee already has a code; it will be replaced.",
                        "%(count)d selected examinees already have a code; they will be replaced.",
                        already,
                    )
                    % {"count": already}
                )
            return action_confirm_response(
                self,
                request,
                queryset,
                action="issue_access_codes",
                title=gettext("Issue access codes"),
                warnings=warnings,
                submit_label=gettext("Yes, download the CSV"),
            )
        with transaction.atomic():
            issued = examinee_access_codes_issue(examinee_ids=queryset.values_list("pk", flat=True))
            from django.contrib.admin.models import CHANGE, LogEntry

            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=[examinee for examinee, _code in issued],
                action_flag=CHANGE,
                change_message=gettext("Issued a new access code."),
            )
        self.message_user(
            request,
            ngettext(
                "Issued %(count)d access code; the CSV download is the only copy.",
                "Issued %(count)d access codes; the CSV download is the only copy.",
                len(issued),
            )
            % {"count": len(issued)},
            messages.SUCCESS,
        )
        return self._credentials_download(
            access_codes_csv(issued=issued), f"access-codes-{timezone.localtime():%Y%m%d-%H%M%S}.csv"
        )


class SupervisorAddForm(forms.ModelForm):
    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to set one later with the action “Set new passwords (download CSV once)”."),
    )

    class Meta:
        model = Supervisor
        fields = ("supervisor_id", "group", "supervisor_name")

    def clean(self):
        cleaned = super().clean()
        for column in ("supervisor_id", "supervisor_name"):
            value = (cleaned.get(column) or "").strip()
            problem = roster_value_problem(roster=SUPERVISOR_FORMAT, column=column, value=value)
            if problem:
                self.add_error(column, problem)
            cleaned[column] = value
        supervisor_id = cleaned.get("supervisor_id")
        if supervisor_id and usernames_existing_get(usernames=[supervisor_id]):
            self.add_error(
                "supervisor_id",
                gettext("A user account named %(id)s already exists (a supervisor signs in with this name).")
                % {"id": supervisor_id},
            )
        password = cleaned.get("password")
        if password and supervisor_id:
            problem = password_problem(
                person_id=supervisor_id, name=cleaned.get("supervisor_name", ""), password=password
            )
            if problem:
                self.add_error("password", problem)
        return cleaned


@admin.register(Supervisor)
class SupervisorAdmin(RosterAdmin):
    roster = SUPERVISOR_FORMAT
    resource_classes = [SupervisorResource]
    list_display = ("supervisor_id", "supervisor_name", "plan", "group", "sign_in", "connection")
    list_select_related = ("plan", "group", "progress", "user")
    list_filter = (PlanFilter, GroupFilter, "progress__conn_status_code")
    search_fields = ("supervisor_id", "supervisor_name")
    search_help_text = _("Supervisor ID or name (part of it).")
    ordering = ("plan_id", "group_id", "supervisor_id")
    actions = ("reset_passwords",)
    readonly_fields = ("plan", "sign_in", "connection", "ip_address")

    def get_queryset(self, request):
        return supervisor_list()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SupervisorAddForm
            kwargs["fields"] = ("supervisor_id", "group", "supervisor_name", "password")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("supervisor_id", "group", "supervisor_name", "password")
        return ("supervisor_id", "group", "supervisor_name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("supervisor_id", "group", *self.readonly_fields)

    @admin.display(description=_("sign-in user"), ordering="user__username")
    def sign_in(self, obj: Supervisor) -> str:
        if not obj.user_id:
            return "-"
        return (
            obj.user.username
            if obj.user.has_usable_password()
            else gettext("%(name)s (no password yet)") % {"name": obj.user.username}
        )

    @admin.display(description=_("connection"), ordering="progress__conn_status_code")
    def connection(self, obj: Supervisor) -> str:
        progress = getattr(obj, "progress", None) if obj.pk and not obj._state.adding else None
        return progress.get_conn_status_code_display() if progress else "-"

    @admin.display(description=_("IP address"))
    def ip_address(self, obj: Supervisor) -> str:
        progress = getattr(obj, "progress", None) if obj.pk and not obj._state.adding else None
        return (progress.ip_addr or "-") if progress else "-"

    def roster_bulk_create(self, rows: list[PersonRow]) -> list[Supervisor]:
        return supervisors_bulk_create(rows=rows)

    def save_model(self, request, obj: Supervisor, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row = PersonRow(
            person_id=obj.supervisor_id,
            group_id=obj.group_id,
            name=obj.supervisor_name,
            password=form.cleaned_data.get("password") or None,
        )
        created = supervisors_bulk_create(rows=[row])[0]
        obj.plan_id = created.plan_id
        obj.user = created.user
        _adopt(obj, created)

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            user_ids = supervisor_user_ids_get(queryset=Supervisor.objects.filter(pk=obj.pk))
            super().delete_model(request, obj)
            self._sign_in_users_delete(user_ids)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            user_ids = supervisor_user_ids_get(queryset=queryset)
            super().delete_queryset(request, queryset)
            self._sign_in_users_delete(user_ids)

    @staticmethod
    def _sign_in_users_delete(user_ids: set[int]) -> None:
        # A supervisor's user exists only to sign in as that supervisor; left behind it would keep
        # the name taken and refuse the supervisor's re-import. Staff accounts are never removed.
        from django.contrib.auth import get_user_model

        get_user_model().objects.filter(pk__in=user_ids, is_staff=False, is_superuser=False).delete()

    @admin.action(description=_("Set new passwords (download CSV once)"), permissions=["change"])
    def reset_passwords(self, request: HttpRequest, queryset: QuerySet[Supervisor]) -> HttpResponse | None:
        """Confirm, then give each selected supervisor a random password, returned once as CSV."""
        if request.POST.get("confirm") != "yes":
            warnings = [
                gettext(
                    "Passwords are stored only as a hash: this download is the only time they exist in clear. "
                    "Keep the file safe and hand the passwords out."
                ),
                gettext("The previous password of each selected supervisor stops working at once."),
            ]
            return action_confirm_response(
                self,
                request,
                queryset,
                action="reset_passwords",
                title=gettext("Set new supervisor passwords"),
                warnings=warnings,
                submit_label=gettext("Yes, download the CSV"),
            )
        try:
            with transaction.atomic():
                issued = supervisor_passwords_reset(supervisor_ids=queryset.values_list("pk", flat=True))
                from django.contrib.admin.models import CHANGE, LogEntry

                LogEntry.objects.log_actions(
                    user_id=request.user.pk,
                    queryset=[supervisor for supervisor, _password in issued],
                    action_flag=CHANGE,
                    change_message=gettext("Set a new password."),
                )
        except CodedError as exc:
            self.message_user(request, _coded_error_text(exc), messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext(
                "Set %(count)d new password; the CSV download is the only copy.",
                "Set %(count)d new passwords; the CSV download is the only copy.",
                len(issued),
            )
            % {"count": len(issued)},
            messages.SUCCESS,
        )
        return self._credentials_download(
            supervisor_passwords_csv(issued=issued), f"supervisor-passwords-{timezone.localtime():%Y%m%d-%H%M%S}.csv"
        )


# Progress tables (read-only) ------------------------------------------------------------------


@admin.register(TestProgress)
class TestProgressAdmin(ReadOnlyAdmin):
    list_display = ("plan", "status_code")
    list_select_related = ("plan",)
    list_filter = ("status_code",)
    search_fields = ("plan__plan_id", "plan__plan_name")


@admin.register(GroupProgress)
class GroupProgressAdmin(ReadOnlyAdmin):
    list_display = (
        "group",
        "plan",
        "status_code",
        "assigned_examinee_cnt",
        "connected_examinee_cnt",
        "submitted_examinee_cnt",
        "assigned_supervisor_cnt",
        "connected_supervisor_cnt",
    )
    list_select_related = ("group", "plan")
    list_filter = (PlanFilter, "status_code")
    search_fields = ("group__group_id", "group__group_name")
    show_full_result_count = False


@admin.register(SupervisorProgress)
class SupervisorProgressAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("supervisor", "group", "plan", "conn_status_code", "ip_addr", "browser_info")
    list_select_related = ("supervisor", "group", "plan")
    list_filter = (PlanFilter, GroupFilter, "conn_status_code")
    search_fields = ("supervisor__supervisor_id",)
    exact_search_fields = ("supervisor_id",)
    search_help_text = _("Exact supervisor ID.")
    show_full_result_count = False


@admin.register(ExamineeProgress)
class ExamineeProgressAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("examinee", "group", "exam_status_code", "conn_status_code", "current_stage", "ip_addr")
    list_select_related = ("examinee", "group", "current_stage")
    list_filter = (PlanFilter, GroupFilter, "exam_status_code", "conn_status_code")
    search_fields = ("examinee__examinee_id",)
    exact_search_fields = ("examinee_id",)
    search_help_text = _("Exact examinee ID.")
    show_full_result_count = False


@admin.register(StatusTransition)
class StatusTransitionAdmin(ReadOnlyAdmin):
    """The audit trail of state changes (who, when, from, to), newest first."""

    list_display = ("occurred_at", "subject_type", "subject_id", "action", "from_value", "to_value", "actor", "reason")
    list_filter = ("subject_type", "action")
    search_fields = ("subject_id", "plan_id", "group_id", "actor")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
