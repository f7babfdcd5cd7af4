// The operator's control page of one plan (templates/admin/plans/control.html, drawn by
// plans.admin.PlanControlAdminMixin). The page is complete without this script; the script keeps
// it live and makes its buttons work:
// - every `pollMilliseconds` (2 s) it reads the operator API's plan overview (statuses and the
//   GROUP_PROGRESS head counts) and the page's `control/clocks/` (each group's stage and
//   remaining time), same-origin with the admin session;
// - the buttons POST to the operator API with Django's X-CSRFToken; pause and complete first
//   ask for a reason and a confirmation in a modal dialog;
// - every refusal is shown with the server's code and message ({"type":"error","code","message"}).
// The remaining time is the server's: each poll gives the milliseconds left at the server's
// reading, placed at the middle of the request's round trip; between polls the page counts down
// from that local deadline (frozen while the group is paused). No user-facing words live here:
// they come from the page's "control-strings" (gettext, Korean first).

import { formatRemaining } from "../../exam/js/clock.js";

/** `text` with `{name}` placeholders filled from `params`. */
export function fill(text, params = {}) {
  return String(text).replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A refusal as the page shows it: "<code> <message> (<detail>)". */
export function errorText(reply, strings) {
  if (!reply || typeof reply !== "object" || !reply.code) return strings.error_unknown;
  const message = typeof reply.message === "string" && reply.message ? reply.message : strings.error_unknown;
  let text = fill(strings.error_with_code, { code: reply.code, message });
  let detail = reply.detail;
  if (detail && typeof detail === "object") detail = typeof detail.detail === "string" ? detail.detail : JSON.stringify(detail);
  if (typeof detail === "string" && detail) text += " " + fill(strings.error_detail, { detail });
  return text;
}

/** Whether `action` may start from `status` (the transition table of plans.choices, sent by the page). */
export function allowedFrom(transitions, action, status) {
  return Array.isArray(transitions[action]) && transitions[action].includes(status);
}

/**
 * The clocks of one poll with local deadlines: the server read its clock, on average, halfway
 * through the round trip, so a remaining time of r ms ends at (sentAt + receivedAt) / 2 + r.
 */
export function localClocks(clocks, { sentAt, receivedAt }) {
  const middle = (sentAt + receivedAt) / 2;
  return clocks.map((clock) => ({
    ...clock,
    firstDeadlineMs: middle + clock.first_remaining_ms,
    lastDeadlineMs: middle + clock.last_remaining_ms,
  }));
}

/** Milliseconds left of one local clock at local time `nowMs` (standing still while paused). */
export function remainingMs(clock, nowMs, which = "first") {
  if (clock.paused) return which === "first" ? clock.first_remaining_ms : clock.last_remaining_ms;
  const deadline = which === "first" ? clock.firstDeadlineMs : clock.lastDeadlineMs;
  return Math.max(0, deadline - nowMs);
}

/**
 * One stage of a group as a line of text (plans.admin._clock_line says the same for the first
 * drawing). The stage's name and AUTO_MOVE come with each poll, so an edited stage shows at once.
 */
export function clockLine(clock, { strings, nowMs }) {
  const first = remainingMs(clock, nowMs, "first");
  const last = remainingMs(clock, nowMs, "last");
  const params = {
    stage: clock.stage_name,
    count: clock.examinees,
    remaining: formatRemaining(Math.ceil(first / 1000)),
  };
  let key;
  if (first <= 0) key = clock.auto_move ? "stage_moving" : "stage_waiting";
  else key = clock.paused ? "stage_paused" : "stage_running";
  let line = fill(strings[key], params);
  if (Math.ceil(last / 1000) > Math.ceil(first / 1000)) {
    line += " (" + fill(strings.stage_extra, { remaining: formatRemaining(Math.ceil(last / 1000)) }) + ")";
  }
  return line;
}

const COUNT_FIELDS = [
  "assigned_examinee_cnt",
  "connected_examinee_cnt",
  "submitted_examinee_cnt",
  "assigned_supervisor_cnt",
  "connected_supervisor_cnt",
];
const TICK_MILLISECONDS = 250;

/** A GET or POST of JSON, same-origin with the session; never throws. */
async function requestJson(url, { method = "GET", body = undefined, csrfToken = "" } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      // The admin answers an ended session with a redirect to its sign-in page: not data.
      redirect: "manual",
    });
  } catch {
    return { ok: false, kind: "network" };
  }
  if (response.type === "opaqueredirect") return { ok: false, kind: "session" };
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok && data !== null) return { ok: true, data };
  if (data && data.type === "error") return { ok: false, kind: "refused", reply: data };
  return { ok: false, kind: "unknown", status: response.status };
}

export class ControlPage {
  constructor({ root, config, strings, now = () => Date.now() }) {
    this.root = root;
    this.config = config;
    this.strings = strings;
    this.now = now;
    this.statusRegion = root.querySelector("#control-status");
    this.errorRegion = root.querySelector("#control-error");
    this.liveLine = root.querySelector("#control-live");
    this.rowsBody = root.querySelector("#group-rows");
    this.rowTemplate = root.querySelector("#group-row-template");
    this.dialog = root.querySelector("#reason-dialog");
    this.clocksByGroup = new Map();
    this.groupStatus = new Map();
    this.planStatus = root.querySelector("#plan-status")?.dataset.status ?? "";
    this.busy = new Set();
    this.pollTimer = null;
    this.polling = false;
    this.pollAgain = false;
    this.pollFailing = false;
  }

  start() {
    for (const row of this.rowsBody.querySelectorAll("tr[data-group-id]")) {
      const badge = row.querySelector('[data-field="status"]');
      this.groupStatus.set(row.dataset.groupId, badge ? badge.dataset.status : "");
    }
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button && this.root.contains(button)) this.act(button);
    });
    this.setupDialog();
    this.schedulePoll(0);
    this.ticker = setInterval(() => this.renderClocks(), TICK_MILLISECONDS);
  }

  // Announcements ------------------------------------------------------------------------------

  announce(text) {
    // Emptied first, so that the same words twice are announced twice.
    this.statusRegion.textContent = "";
    setTimeout(() => {
      this.statusRegion.textContent = text;
    }, 50);
  }

  showError(text) {
    this.errorRegion.textContent = text;
  }

  failureText(result) {
    if (result.kind === "refused") return errorText(result.reply, this.strings);
    if (result.kind === "network") return this.strings.error_network;
    if (result.kind === "session") return this.strings.error_session;
    return result.status ? `${this.strings.error_unknown} (HTTP ${result.status})` : this.strings.error_unknown;
  }

  targetText(scope, target) {
    return fill(scope === "plan" ? this.strings.target_plan : this.strings.target_group, { id: target });
  }

  // Polling ------------------------------------------------------------------------------------

  schedulePoll(delay) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.runPoll(), delay);
  }

  async runPoll() {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      await this.poll();
    } finally {
      this.polling = false;
      const again = this.pollAgain;
      this.pollAgain = false;
      this.schedulePoll(again ? 0 : this.config.pollMilliseconds);
    }
  }

  async poll() {
    const sentAt = this.now();
    const [progress, clocks] = await Promise.all([
      requestJson(this.config.progressUrl),
      requestJson(this.config.clocksUrl),
    ]);
    const receivedAt = this.now();
    const failed = [progress, clocks].find((result) => !result.ok);
    if (failed) {
      const text = fill(this.strings.poll_failed, { error: this.failureText(failed) });
      this.liveLine.dataset.state = "failed";
      this.liveLine.textContent = text;
      if (!this.pollFailing) this.showError(text);
      this.pollFailing = true;
      return;
    }
    if (this.pollFailing) this.showError("");
    this.pollFailing = false;
    this.renderPlan(progress.data);
    const seen = new Set();
    for (const group of progress.data.groups) {
      this.renderGroup(group);
      seen.add(group.group_id);
    }
    for (const row of this.rowsBody.querySelectorAll("tr[data-group-id]")) {
      if (!seen.has(row.dataset.groupId)) row.remove();
    }
    this.clocksByGroup = new Map();
    for (const clock of localClocks(clocks.data.clocks, { sentAt, receivedAt })) {
      if (!this.clocksByGroup.has(clock.group_id)) this.clocksByGroup.set(clock.group_id, []);
      this.clocksByGroup.get(clock.group_id).push(clock);
    }
    this.renderClocks();
    const time = new Date(clocks.data.server_time).toLocaleTimeString(document.documentElement.lang || undefined);
    this.liveLine.dataset.state = "live";
    this.liveLine.textContent = fill(this.strings.poll_ok, { time });
  }

  // Drawing ------------------------------------------------------------------------------------

  setBadge(badge, status) {
    if (!badge || badge.dataset.status === status) return;
    badge.dataset.status = status;
    badge.textContent = this.config.statusLabels[status] ?? status;
  }

  renderPlan(progress) {
    this.planStatus = progress.status_code;
    this.setBadge(this.root.querySelector("#plan-status"), progress.status_code);
    const started = this.root.querySelector("#plan-started-at");
    if (started && progress.started_at) {
      const text = new Date(progress.started_at).toLocaleString(document.documentElement.lang || undefined);
      if (started.dataset.value !== progress.started_at) {
        started.dataset.value = progress.started_at;
        started.textContent = text;
      }
    }
    this.updateButtons("plan", this.config.planId, progress.status_code);
  }

  rowFor(groupId) {
    const existing = [...this.rowsBody.querySelectorAll("tr[data-group-id]")].find(
      (row) => row.dataset.groupId === groupId,
    );
    if (existing || !this.rowTemplate) return existing ?? null;
    const row = this.rowTemplate.content.querySelector("tr").cloneNode(true);
    row.dataset.groupId = groupId;
    row.querySelector(".control-id").textContent = groupId;
    for (const button of row.querySelectorAll("button[data-action]")) button.dataset.target = groupId;
    for (const label of row.querySelectorAll('[data-field="target-label"]')) label.textContent = ` ${groupId}`;
    this.rowsBody.insertBefore(row, this.rowTemplate);
    return row;
  }

  renderGroup(group) {
    const row = this.rowFor(group.group_id);
    if (!row) return;
    this.groupStatus.set(group.group_id, group.status_code);
    this.setBadge(row.querySelector('[data-field="status"]'), group.status_code);
    for (const field of COUNT_FIELDS) {
      const cell = row.querySelector(`[data-field="${field}"]`);
      const value = String(group[field]);
      if (cell && cell.textContent !== value) cell.textContent = value;
    }
    this.updateButtons("group", group.group_id, group.status_code);
  }

  renderClocks() {
    const nowMs = this.now();
    for (const row of this.rowsBody.querySelectorAll("tr[data-group-id]")) {
      const list = row.querySelector('[data-field="clock"] ul');
      if (!list) continue;
      const clocks = this.clocksByGroup.get(row.dataset.groupId) ?? [];
      const lines = clocks.length
        ? clocks.map((clock) => clockLine(clock, { strings: this.strings, nowMs }))
        : [this.strings.no_clock];
      const current = [...list.children].map((item) => item.textContent);
      if (current.length === lines.length && current.every((text, index) => text === lines[index])) continue;
      list.replaceChildren(
        ...lines.map((text) => {
          const item = document.createElement("li");
          item.textContent = text;
          if (!clocks.length) item.className = "control-note";
          return item;
        }),
      );
    }
  }

  buttonsOf(scope, target) {
    return [...this.root.querySelectorAll(`button[data-scope="${scope}"][data-action]`)].filter(
      (button) => button.dataset.target === target,
    );
  }

  updateButtons(scope, target, status) {
    const busy = this.busy.has(`${scope}:${target}`);
    for (const button of this.buttonsOf(scope, target)) {
      const disabled = busy || !this.config.canChange || !allowedFrom(this.config.transitions, button.dataset.action, status);
      if (button.disabled !== disabled) button.disabled = disabled;
    }
  }

  statusOf(scope, target) {
    return scope === "plan" ? this.planStatus : this.groupStatus.get(target) ?? "";
  }

  // Actions ------------------------------------------------------------------------------------

  /** Django's CSRF token: the cookie's current value (a sign-in in another tab rotates it), else the page's. */
  csrfToken() {
    const name = `${this.config.csrfCookieName}=`;
    const cookie = document.cookie.split("; ").find((part) => part.startsWith(name));
    return cookie ? decodeURIComponent(cookie.slice(name.length)) : this.config.csrfToken;
  }

  setupDialog() {
    const input = this.root.querySelector("#reason-input");
    const form = this.root.querySelector("#reason-form");
    input.addEventListener("input", () => input.setCustomValidity(""));
    form.addEventListener("submit", (event) => {
      if (!input.value.trim()) {
        event.preventDefault();
        input.setCustomValidity(this.strings.reason_required);
        input.reportValidity();
      }
    });
    this.root.querySelector("#reason-cancel").addEventListener("click", () => this.dialog.close("cancel"));
  }

  /** Ask for a reason and a confirmation; resolves to the reason, or null when cancelled. */
  askReason(action, target) {
    const input = this.root.querySelector("#reason-input");
    this.root.querySelector("#reason-title").textContent = fill(this.strings[`confirm_${action}_title`], { target });
    this.root.querySelector("#reason-body").textContent = this.strings[`confirm_${action}_body`];
    this.root.querySelector("#reason-confirm").textContent = this.strings[`confirm_${action}_button`];
    input.value = "";
    input.setCustomValidity("");
    this.dialog.returnValue = "";
    return new Promise((resolve) => {
      this.dialog.addEventListener(
        "close",
        () => resolve(this.dialog.returnValue === "confirm" ? input.value.trim() : null),
        { once: true },
      );
      this.dialog.showModal();
      input.focus();
    });
  }

  urlOf(scope, action, target) {
    if (scope === "plan") return this.config.planActionUrls[action];
    const template = this.config.groupActionUrls[action];
    return template && template.replace(this.config.groupPlaceholder, encodeURIComponent(target));
  }

  async act(button) {
    const { scope, action, target } = button.dataset;
    const url = this.urlOf(scope, action, target);
    const key = `${scope}:${target}`;
    if (!url || this.busy.has(key)) return;
    const targetText = this.targetText(scope, target);
    let reason = "";
    if (action === "pause" || action === "complete") {
      reason = await this.askReason(action, targetText);
      button.focus();
      if (reason === null) return;
    }
    const hadFocus = document.activeElement === button;
    this.busy.add(key);
    this.updateButtons(scope, target, this.statusOf(scope, target));
    this.announce(fill(this.strings.sending, { target: targetText }));
    const result = await requestJson(url, { method: "POST", body: { reason }, csrfToken: this.csrfToken() });
    this.busy.delete(key);
    if (result.ok) {
      this.showError("");
      if (scope === "plan") this.renderPlan(result.data);
      else if (action !== "advance") this.renderGroup(result.data);
      const done = this.strings[`done_${action}`];
      this.announce(fill(done, { target: targetText, count: result.data.moved ?? "" }));
    } else {
      const text = fill(this.strings.refused, { target: targetText, error: this.failureText(result) });
      this.showError(text);
      this.announce(text);
    }
    this.updateButtons(scope, target, this.statusOf(scope, target));
    if (hadFocus) this.keepFocus(button, scope, target);
    // Read the new state at once (a poll in flight reads again when it ends).
    if (this.polling) this.pollAgain = true;
    else this.schedulePoll(0);
  }

  /** A disabled button loses the keyboard focus: hand it to the next action that is possible now. */
  keepFocus(button, scope, target) {
    if (!button.disabled) {
      button.focus();
      return;
    }
    const buttons = this.buttonsOf(scope, target);
    const after = buttons.slice(buttons.indexOf(button) + 1).concat(buttons.slice(0, buttons.indexOf(button)));
    const next = after.find((candidate) => !candidate.disabled);
    if (next) next.focus();
  }
}

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

const config = readJson("control-config");
const root = document.querySelector(".exam-control");
if (config && root) {
  new ControlPage({ root, config, strings: readJson("control-strings") ?? {} }).start();
}
