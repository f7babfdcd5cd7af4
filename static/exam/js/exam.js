// The examinee's exam page (docs/protocol.md; seed 000, 3.1 save flow, 3.2 recovery, 5.1/5.2
// error handling on the browser side).
//
// - Every change of an answer is written to the local journal first, then sent as one
//   `answer.sync` per question after a short debounce, with the question's rising version and
//   its cumulative behaviour counters. The journal keeps it until the server says that version
//   is in the database (answer.committed, or committedVersion from recover).
// - The status shows, per question and overall: saving, saved (answer.ack), stored permanently
//   (answer.committed), or offline with the number of unsent changes.
// - On every (re)connect the page sends `recover` first and merges: a journal entry newer than the
//   server's copy is resent, one the server already committed is dropped, and where the server
//   holds a newer version (another tab or computer) the server's copy wins.
// - Korean input methods: nothing is sent while a syllable is being composed.
// - The countdown is computed from the server's deadline and clock offset (clock.js).

import { answersChecksum } from "./checksum.js";
import { ServerClock, formatRemaining } from "./clock.js";
import { Connection, ConnectionLost, NotAvailable, backoffDelay } from "./connection.js";
import { Journal } from "./journal.js";
import { errorText, t } from "./strings.js";

const DEBOUNCE_MS = 400;
const MAX_WAIT_MS = 1500;
const PACE_MS = 60; // the server allows 20 messages a second sustained
const HEARTBEAT_MIN_MS = 20000;
const HEARTBEAT_JITTER_MS = 10000;
const FALLBACK_POLL_MS = 15000;
const FALLBACK_POLL_WAITING_MS = 5000;
const HIGH_PRIORITY_SECONDS = 60;
const MAX_NAVIGATION_PER_MESSAGE = 50;
const KEEP_NAVIGATION = 500;
const SCROLL_GESTURE_GAP_MS = 300;
const SUBMIT_DRAIN_TIMEOUT_MS = 15000;
// Errors after which the change is kept and sent again after a backoff (docs/protocol.md, "error").
const RETRY_CODES = new Set(["SYS-001", "SYS-002", "SYS-003", "SYS-004"]);
const ANNOUNCE_AT_SECONDS = [600, 300, 60];

const config = JSON.parse(document.getElementById("exam-config").textContent);
const owner = `${config.planId}/${config.examineeId}`;

const $ = (id) => document.getElementById(id);
const elements = {
  app: $("exam-app"),
  main: $("exam-main"),
  header: document.querySelector(".site-header"),
  loading: $("exam-loading"),
  stage: $("exam-stage"),
  countdown: $("countdown"),
  timeAnnouncer: $("time-announcer"),
  status: $("save-status"),
  alerts: $("exam-alerts"),
  notice: $("exam-notice"),
  questions: $("questions"),
  palette: $("palette"),
  prev: $("prev-question"),
  next: $("next-question"),
  position: $("question-position"),
  submitOpen: $("submit-open"),
  submitResult: $("submit-result"),
  submitDialog: $("submit-dialog"),
  submitDialogBody: $("submit-dialog-body"),
  submitConfirm: $("submit-confirm"),
  submitCancel: $("submit-cancel"),
  pauseOverlay: $("pause-overlay"),
  pauseDialog: $("pause-dialog"),
  pauseMessage: $("pause-message"),
};

const clock = new ServerClock();
let journal = null;
let connection = null;

// The sheet: one entry per question of the current paper (and any journal leftovers).
// value/version: what this page holds; sentVersion: the highest version handed to the network
// (a version is never reused with another value); ackedVersion: acknowledged (in Redis);
// committedVersion: in the database; serverVersion: the highest the server is known to hold.
const sheet = new Map();
let questions = [];
let questionViews = new Map();
let currentIndex = 0;
let testCode = "";
let stageId = "";
let examStatus = "";
let recovered = false;
let paused = false;
let closedReason = null; // a code after which nothing is sent until the exam state changes
let submitted = false;
let focusLost = 0;
let navigation = [];
let seq = 0;
let pumping = false;
let pumpTimer = null;
let sendAttempt = 0;
let blockedUntil = 0;
let heartbeatTimer = null;
let lastAnnounced = null;
let lastStatusKey = "";
let attentive = document.visibilityState === "visible" && document.hasFocus();
let activeSince = null;

// Entries ------------------------------------------------------------------------------------

function emptyBehavior() {
  return { focusTime: 0, editCount: 0, keystrokes: 0, clicks: 0, scrolls: 0, visits: 0 };
}

function newEntry(questionId) {
  return {
    questionId,
    testCode,
    value: "",
    version: 0,
    sentVersion: 0,
    ackedVersion: 0,
    committedVersion: 0,
    serverVersion: 0,
    updated: "",
    behavior: emptyBehavior(),
    rejected: null,
    dueAt: 0,
    dirtySince: 0,
    priority: "normal",
  };
}

function entryFor(questionId) {
  let entry = sheet.get(questionId);
  if (!entry) {
    entry = newEntry(questionId);
    sheet.set(questionId, entry);
  }
  return entry;
}

function needsSending(entry) {
  return entry.version > entry.ackedVersion && entry.version > entry.committedVersion;
}

function isCommitted(entry) {
  return entry.version > 0 && entry.committedVersion >= entry.version;
}

/** What the journal keeps of an entry: enough to resend it after a reload or a crash. */
function journalRecord(entry) {
  return {
    questionId: entry.questionId,
    testCode: entry.testCode,
    value: entry.value,
    version: entry.version,
    sentVersion: entry.sentVersion,
    updated: entry.updated,
    behavior: { ...entry.behavior },
  };
}

function persist(entry) {
  // A failed write is reported by journal.onError; the change is still sent.
  const write = isCommitted(entry) ? journal.remove(entry.questionId) : journal.put(journalRecord(entry));
  return write.catch(() => undefined);
}

function serverNowIso() {
  return new Date(clock.serverNow()).toISOString();
}

// Behaviour ---------------------------------------------------------------------------------

function currentQuestionId() {
  return questions[currentIndex] ? questions[currentIndex].id : null;
}

/** Add the time the current question has been in front of an attentive examinee to its focusTime. */
function accrueFocus() {
  const questionId = currentQuestionId();
  if (activeSince !== null && questionId) {
    const entry = entryFor(questionId);
    const seconds = (performance.now() - activeSince) / 1000;
    entry.behavior.focusTime = Math.round((entry.behavior.focusTime + seconds) * 10) / 10;
  }
  activeSince = attentive ? performance.now() : null;
}

function setAttentive(value) {
  if (value === attentive) return;
  accrueFocus();
  if (!value) focusLost += 1;
  attentive = value;
  activeSince = attentive ? performance.now() : null;
  if (journal) journal.putMeta(metaRecord()).catch(() => undefined);
}

function metaRecord() {
  return { questions, testCode, stageId, focusLost };
}

function deviceInfo() {
  const agent = navigator.userAgent;
  const data = navigator.userAgentData;
  const mobile = data ? data.mobile : /Mobi|Android|iPhone|iPad/i.test(agent);
  let browser = "Unknown";
  const browserMatch = agent.match(/(Edg|OPR|Firefox|Chrome|Chromium|Version)\/(\d+)/);
  if (browserMatch) {
    const names = { Edg: "Edge", OPR: "Opera", Version: "Safari" };
    browser = `${names[browserMatch[1]] || browserMatch[1]} ${browserMatch[2]}`;
  }
  let os = "Unknown";
  if (/Windows NT 10/.test(agent)) os = "Windows 10/11";
  else if (/Windows/.test(agent)) os = "Windows";
  else if (/Android/.test(agent)) os = "Android";
  else if (/iPhone|iPad|iPod/.test(agent)) os = "iOS";
  else if (/Mac OS X/.test(agent)) os = "macOS";
  else if (/CrOS/.test(agent)) os = "ChromeOS";
  else if (/Linux/.test(agent)) os = "Linux";
  return { type: mobile ? "Mobile" : "PC", browser: browser.slice(0, 200), os };
}
const device = deviceInfo();

// Changes -----------------------------------------------------------------------------------

/** The examinee changed question `questionId` to `value` (never called mid-composition). */
function answerChanged(questionId, value) {
  if (paused || submitted) return; // the sheet is inert then; this guards programmatic events
  const entry = entryFor(questionId);
  if (entry.value === value && entry.version > 0) return; // no change (e.g. input after compositionend)
  if (entry.version === 0 && value === "") return;
  if (entry.sentVersion >= entry.version || entry.serverVersion >= entry.version) {
    entry.version = Math.max(entry.version, entry.sentVersion, entry.serverVersion) + 1;
  }
  const now = Date.now();
  entry.testCode = testCode;
  entry.value = value;
  entry.updated = serverNowIso();
  entry.behavior.editCount += 1;
  entry.rejected = null;
  if (!entry.dirtySince) entry.dirtySince = now;
  entry.dueAt = Math.min(now + DEBOUNCE_MS, entry.dirtySince + MAX_WAIT_MS);
  persist(entry);
  renderQuestionStatus(questionId);
  renderOverallStatus();
  schedulePump(DEBOUNCE_MS);
}

// Sending -----------------------------------------------------------------------------------

function schedulePump(delay = 0) {
  clearTimeout(pumpTimer);
  pumpTimer = setTimeout(pump, Math.max(0, delay));
}

function sendable() {
  // A pause does not stop sending: the server refuses writes while paused (EXM-004, nothing
  // stored) and the backoff keeps those tries rare.
  return recovered && connection.usable && closedReason === null && Date.now() >= blockedUntil;
}

function nextDue(now) {
  let due = null;
  let wait = null;
  for (const entry of sheet.values()) {
    if (entry.testCode !== testCode || !needsSending(entry) || entry.rejected) continue;
    if (entry.dueAt <= now) {
      if (due === null || entry.dueAt < due.dueAt) due = entry;
    } else if (wait === null || entry.dueAt < wait) {
      wait = entry.dueAt;
    }
  }
  return { due, wait };
}

async function buildSync(entry) {
  const questionId = entry.questionId;
  if (questionId === currentQuestionId()) accrueFocus();
  // The change as it is now: a keystroke during the awaits below gets the next version.
  const change = { value: entry.value, version: entry.version, updated: entry.updated };
  if (entry.sentVersion < change.version) {
    // Write-ahead: the journal learns the version went out before it does, so a version is
    // never sent twice with different values, even after a crash right after sending.
    entry.sentVersion = change.version;
    await journal.put(journalRecord(entry)).catch(() => undefined);
  }
  const answers = { [questionId]: change };
  const moves = navigation.slice(0, MAX_NAVIGATION_PER_MESSAGE);
  const remaining = clock.remainingSeconds();
  const highPriority = entry.priority === "high" || (remaining !== null && remaining <= HIGH_PRIORITY_SECONDS);
  seq += 1;
  const message = {
    type: "answer.sync",
    seq,
    examId: config.planId,
    testCode: entry.testCode,
    userId: config.examineeId,
    timestamp: serverNowIso(),
    answers,
    metadata: {
      device,
      behavior: { ...entry.behavior, focusTime: entry.behavior.focusTime, focusLost, navigation: moves },
    },
    status: examStatus || "IN_PROGRESS",
    priority: highPriority ? "high" : "normal",
    checksum: await answersChecksum(answers),
  };
  return { message, moves: moves.length, version: change.version };
}

/** Send the due changes one message at a time (each question's own counters travel with it). */
async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    while (sendable()) {
      const now = Date.now();
      const { due, wait } = nextDue(now);
      if (!due) {
        if (wait !== null) schedulePump(wait - now);
        break;
      }
      const { message, moves, version } = await buildSync(due);
      renderQuestionStatus(due.questionId);
      let result;
      try {
        result = await connection.request(message);
      } catch (error) {
        if (error instanceof ConnectionLost || error instanceof NotAvailable) break;
        throw error;
      }
      const keepGoing = await handleSyncReply(due, version, moves, result.reply);
      renderOverallStatus();
      if (!keepGoing) break;
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
  } finally {
    pumping = false;
    renderOverallStatus();
    if (Date.now() < blockedUntil) schedulePump(blockedUntil - Date.now() + 10);
  }
}

async function handleSyncReply(entry, version, moves, reply) {
  const questionId = entry.questionId;
  if (reply.type === "answer.ack") {
    sendAttempt = 0;
    navigation.splice(0, moves);
    if (reply.accepted && questionId in reply.accepted) {
      entry.ackedVersion = Math.max(entry.ackedVersion, reply.accepted[questionId]);
      entry.serverVersion = Math.max(entry.serverVersion, reply.accepted[questionId]);
      if (entry.version === version) entry.dirtySince = 0;
      clearAlert();
      if (pauseSource === "error") hidePause();
      if (connection.state === "fallback") scheduleHeartbeat(); // learn the commit sooner
    }
    if (reply.rejected && questionId in reply.rejected && entry.version === version) {
      // This value can never be stored (not a choice, too long, unknown question): keep it on
      // screen with the reason and wait for the examinee to change it.
      entry.rejected = reply.rejected[questionId];
    }
    if (reply.stale && questionId in reply.stale) {
      entry.serverVersion = Math.max(entry.serverVersion, reply.stale[questionId]);
      await recoverNow();
    }
    renderQuestionStatus(questionId);
    return true;
  }
  if (reply.type === "error") {
    return handleSendError(reply);
  }
  return true;
}

function retryLater(capMs) {
  blockedUntil = Date.now() + backoffDelay(sendAttempt, { baseMs: 1000, capMs });
  sendAttempt += 1;
}

function handleSendError(reply) {
  const code = reply.code || "";
  if (RETRY_CODES.has(code)) {
    // Nothing was acknowledged: the change stays in the journal and goes again after a backoff.
    showAlert(errorText(reply));
    retryLater(30000);
    return false;
  }
  if (code === "AUT-002") {
    signedOut();
    return false;
  }
  if (code === "EXM-003" || code === "AUT-003") {
    // Submitted, or not this examinee's sheet: nothing more can be written from this page.
    closedReason = code;
    showAlert(errorText(reply));
    if (code === "EXM-003") markSubmitted();
    return false;
  }
  if (code === "EXM-004") {
    showPause(reply.message, "error");
  } else {
    showAlert(errorText(reply));
  }
  if (code === "EXM-001" || code === "EXM-002") {
    // Not open (yet), or the stage closed or moved: look at the sheet again (a stage move
    // brings the next paper), and keep trying slowly in case the window opens again.
    recoverNow();
  }
  // The journal keeps the change; it goes again after a backoff (a pause or a closed window
  // refuses it cheaply, and the first accepted change shows the window is open again).
  retryLater(60000);
  return false;
}

// Recovery ----------------------------------------------------------------------------------

let recovering = null;

/** Ask the server for the sheet and merge it with the journal (at most one recover in flight). */
function recoverNow() {
  if (recovering) return recovering;
  recovering = (async () => {
    try {
      seq += 1;
      const { reply, sentAt, receivedAt } = await connection.request({ type: "recover", seq });
      if (reply.type === "recover.result") {
        clock.observe({ sentAt, receivedAt, serverTime: reply.serverTime });
        applyRecover(reply);
      } else if (reply.type === "error") {
        if (reply.code === "AUT-002") signedOut();
        else showAlert(errorText(reply));
      }
    } catch (error) {
      if (!(error instanceof ConnectionLost || error instanceof NotAvailable)) throw error;
    } finally {
      recovering = null;
    }
  })();
  return recovering;
}

function maxBehavior(local, server) {
  const merged = { ...local };
  for (const key of Object.keys(emptyBehavior())) {
    const value = server && typeof server[key] === "number" ? server[key] : 0;
    merged[key] = Math.max(local[key] || 0, value);
  }
  return merged;
}

function applyRecover(result) {
  const stageChanged = result.testCode !== testCode || result.stageId !== stageId;
  if (stageChanged) {
    accrueFocus();
    testCode = result.testCode;
    stageId = result.stageId;
    questions = Array.isArray(result.questions) ? result.questions : [];
    currentIndex = 0;
    if (!submitted) closedReason = null;
  }
  const answers = result.answers || {};
  const committed = result.committed || {};
  const replaced = [];
  for (const question of questions) {
    const server = answers[question.id];
    const committedVersion = Math.max(committed[question.id] || 0, server ? server.committedVersion || 0 : 0);
    const local = sheet.get(question.id);
    if (!local) {
      if (server) {
        const entry = entryFor(question.id);
        Object.assign(entry, {
          testCode,
          value: server.value,
          version: server.version,
          sentVersion: server.version,
          ackedVersion: server.version,
          serverVersion: server.version,
          committedVersion,
          updated: server.updated || "",
          behavior: maxBehavior(emptyBehavior(), server.behavior),
        });
      }
      continue;
    }
    local.committedVersion = Math.max(local.committedVersion, committedVersion);
    if (server) {
      local.serverVersion = Math.max(local.serverVersion, server.version);
      local.behavior = maxBehavior(local.behavior, server.behavior);
      if (local.version > server.version) {
        // This page holds a newer change the server has not got (or lost): send it again.
        local.ackedVersion = Math.min(local.ackedVersion, server.version);
        if (!local.dueAt) local.dueAt = Date.now();
      } else if (local.version === server.version && local.value === server.value) {
        local.ackedVersion = Math.max(local.ackedVersion, server.version);
      } else {
        // The server holds a newer version (another tab or computer wrote it): it wins, and the
        // examinee is told when a change of this page's was replaced.
        if (local.value !== server.value && local.version > local.ackedVersion) replaced.push(question.no);
        Object.assign(local, {
          value: server.value,
          version: server.version,
          sentVersion: Math.max(local.sentVersion, server.version),
          ackedVersion: server.version,
          updated: server.updated || "",
          rejected: null,
          dirtySince: 0,
        });
      }
    } else if (local.version > 0) {
      // Neither the cache nor the database has it: it was never received, or was lost. Resend.
      local.ackedVersion = 0;
      if (!local.dueAt) local.dueAt = Date.now();
    }
    local.testCode = testCode;
    persist(local);
  }
  if (result.metadata && typeof result.metadata.status === "string" && result.metadata.status) {
    examStatus = result.metadata.status;
  }
  recovered = true;
  journal.putMeta(metaRecord()).catch(() => undefined);
  if (stageChanged) renderQuestions();
  else for (const question of questions) renderQuestionValue(question.id);
  renderLeftovers();
  renderOverallStatus();
  if (replaced.length) showAlert(t("replaced_by_server", { questions: replaced.join(", ") }), { kind: "notice" });
  schedulePump(0);
}

/** Journal entries of another paper (a stage the examinee has left) cannot be sent any more. */
function renderLeftovers() {
  const leftovers = [...sheet.values()].filter((entry) => entry.testCode !== testCode && needsSending(entry));
  elements.notice.textContent = leftovers.length ? t("leftovers", { n: leftovers.length }) : "";
  elements.notice.hidden = leftovers.length === 0;
}

// Connection events -------------------------------------------------------------------------

async function onOpen() {
  // Recover first: the server's versions decide what the journal still has to send.
  if (!submitted) closedReason = null;
  blockedUntil = 0;
  sendAttempt = 0;
  await recoverNow();
  await heartbeat();
  scheduleHeartbeat();
  schedulePump(0);
}

function onState(state) {
  elements.app.dataset.connection = state;
  if (state !== "open" && state !== "fallback") {
    // Whatever happened while the link was down, the next link starts with recover: nothing is
    // sent before the server's versions are known again.
    recovered = false;
  }
  if (state === "fallback") {
    onOpen();
  }
  if (state === "unauthorized") signedOut();
  renderOverallStatus();
  for (const question of questions) renderQuestionStatus(question.id);
}

function onUnsolicited(message) {
  if (message.type === "answer.committed") {
    let newerElsewhere = false;
    for (const [questionId, version] of Object.entries(message.versions || {})) {
      const entry = sheet.get(questionId) || (questionViews.has(questionId) ? entryFor(questionId) : null);
      if (!entry) continue;
      entry.serverVersion = Math.max(entry.serverVersion, version);
      if (entry.version > version || (entry.version === version && entry.ackedVersion >= version)) {
        // This page's version, or an older one of this page's: that much is in the database.
        entry.committedVersion = Math.max(entry.committedVersion, version);
        if (isCommitted(entry)) journal.remove(questionId).catch(() => undefined);
      } else {
        // Another window or computer of this examinee wrote it (the doorbell rings every open
        // page): fetch that value; a change of this page's now goes above it.
        newerElsewhere = true;
      }
      renderQuestionStatus(questionId);
    }
    renderOverallStatus();
    if (newerElsewhere) recoverNow();
  } else if (message.type === "exam.state" || message.type === "exam.clock") {
    // Doorbells of the lifecycle (pause, resume, start, completion, stage move, extra time). The
    // server sends the examinee's state as it is now; a lost ring is caught by the next heartbeat.
    examStateChanged(message);
  } else if (message.type === "error" && message.code === "AUT-002") {
    signedOut();
  }
}

function examStateChanged(message) {
  clock.setDeadline(message);
  renderCountdown();
  if (message.examStatus) examStatus = message.examStatus;
  if (message.examStatus === "SUBMITTED" || message.examStatus === "GIVE_UP") markSubmitted();
  const pausedNow = message.paused === true || (message.paused === undefined && message.status === "PAUSED");
  if (pausedNow) {
    showPause(null, "doorbell");
    return;
  }
  if (message.paused === false || message.status) hidePause();
  if (!submitted) closedReason = null;
  blockedUntil = 0;
  sendAttempt = 0;
  if (message.status === "COMPLETED") showAlert(t("exam_completed"));
  if (!message.stageId || message.stageId !== stageId || message.testCode !== testCode) recoverNow();
  schedulePump(0);
}

async function heartbeat() {
  if (connection.state !== "open") {
    if (connection.state === "fallback") await recoverNow();
    return;
  }
  seq += 1;
  try {
    const { reply, sentAt, receivedAt } = await connection.request({ type: "heartbeat", seq });
    if (reply.type !== "heartbeat.ack") return;
    clock.observe({
      sentAt,
      receivedAt,
      serverTime: reply.serverTime,
      deadline: reply.deadline,
      remainingSeconds: reply.remainingSeconds,
      remainingMs: reply.remainingMs,
      paused: reply.paused,
    });
    renderCountdown();
    if (reply.examStatus) examStatus = reply.examStatus;
    if (reply.examStatus === "SUBMITTED" || reply.examStatus === "GIVE_UP") markSubmitted();
    if (reply.paused === true || reply.groupStatus === "PAUSED") showPause(null, "doorbell");
    else if (reply.paused === false || reply.groupStatus === "IN_PROGRESS") hidePause();
    if (reply.stageId && stageId && reply.stageId !== stageId) await recoverNow();
  } catch (error) {
    if (!(error instanceof ConnectionLost || error instanceof NotAvailable)) throw error;
  }
}

function scheduleHeartbeat() {
  clearTimeout(heartbeatTimer);
  let delay = HEARTBEAT_MIN_MS + Math.random() * HEARTBEAT_JITTER_MS;
  if (connection.state === "fallback") {
    // No doorbells over HTTP: poll recover, sooner while saved changes wait for the database.
    const waiting = [...sheet.values()].some((entry) => questionState(entry) === "saved");
    delay = waiting ? FALLBACK_POLL_WAITING_MS : FALLBACK_POLL_MS;
  }
  heartbeatTimer = setTimeout(async () => {
    await heartbeat();
    if (connection.usable) scheduleHeartbeat();
  }, delay);
}

function signedOut() {
  closedReason = "AUT-002";
  showAlert(t("signed_out"), { link: config.loginUrl, linkText: t("sign_in_again") });
  renderOverallStatus();
}

// Pause, submit ------------------------------------------------------------------------------

let focusBeforePause = null;
let pauseSource = null;

/** Block the sheet with the pause message; `source` is "doorbell" (exam.state) or "error" (EXM-004). */
function showPause(message, source) {
  paused = true;
  if (pauseSource !== "doorbell") pauseSource = source;
  elements.pauseMessage.textContent = message || t("paused_message");
  if (!elements.pauseOverlay.hidden) return;
  focusBeforePause = document.activeElement;
  elements.main.inert = true;
  if (elements.header) elements.header.inert = true;
  elements.pauseOverlay.hidden = false;
  elements.app.dataset.paused = "true";
  elements.pauseDialog.focus();
}

function hidePause() {
  if (!paused) return;
  paused = false;
  pauseSource = null;
  elements.pauseOverlay.hidden = true;
  elements.main.inert = false;
  if (elements.header) elements.header.inert = false;
  elements.app.dataset.paused = "false";
  if (focusBeforePause && document.contains(focusBeforePause)) focusBeforePause.focus();
  schedulePump(0);
}

function markSubmitted() {
  if (submitted) return;
  submitted = true;
  closedReason = "EXM-003";
  elements.app.dataset.submitted = "true";
  for (const view of questionViews.values()) {
    for (const input of view.inputs) input.disabled = true;
  }
  elements.submitOpen.disabled = true;
}

function unanswered() {
  return questions.filter((question) => !(sheet.get(question.id) && sheet.get(question.id).value)).length;
}

function openSubmitDialog() {
  elements.submitDialogBody.textContent = t("submit_confirm", { n: unanswered(), total: questions.length });
  elements.submitDialog.showModal();
}

async function drain(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (const entry of sheet.values()) {
    if (entry.testCode === testCode && needsSending(entry)) {
      entry.priority = "high";
      entry.dueAt = 0;
    }
  }
  schedulePump(0);
  while (Date.now() < deadline) {
    if (unsentCount() === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!pumping) schedulePump(0);
  }
  return unsentCount() === 0;
}

async function submitSheet() {
  elements.submitDialog.close();
  elements.submitOpen.disabled = true;
  setSubmitResult("pending", t("submit_sending"));
  try {
    if (!(await drain(SUBMIT_DRAIN_TIMEOUT_MS))) {
      setSubmitResult("error", t("submit_unsent", { n: unsentCount() }));
      return;
    }
    if (connection.state !== "open") {
      setSubmitResult("error", t("submit_needs_connection"));
      return;
    }
    seq += 1;
    let reply;
    try {
      ({ reply } = await connection.request({ type: "submit", seq }));
    } catch (error) {
      setSubmitResult("error", t("submit_needs_connection"));
      return;
    }
    if (reply.type === "error") {
      setSubmitResult("error", errorText(reply));
      return;
    }
    setSubmitResult("done", t("submit_done", { answered: reply.answered ?? "-", total: reply.total ?? questions.length }));
    markSubmitted();
  } finally {
    if (!submitted) elements.submitOpen.disabled = false;
  }
}

function setSubmitResult(state, text) {
  elements.submitResult.dataset.state = state;
  elements.submitResult.textContent = text;
}

// Rendering ---------------------------------------------------------------------------------

function clearAlert() {
  if (elements.alerts.dataset.kind === "error") {
    elements.alerts.textContent = "";
    elements.alerts.dataset.kind = "";
  }
}

function showAlert(text, { link = null, linkText = "", kind = "error" } = {}) {
  elements.alerts.textContent = text;
  elements.alerts.dataset.kind = kind;
  if (link) {
    const anchor = document.createElement("a");
    anchor.href = link;
    anchor.textContent = linkText;
    elements.alerts.append(" ", anchor);
  }
}

/** Changes of the current paper not yet acknowledged (a refused one is shown as an error instead). */
function unsentCount() {
  let count = 0;
  for (const entry of sheet.values()) {
    if (entry.testCode === testCode && needsSending(entry) && !entry.rejected) count += 1;
  }
  return count;
}

function questionState(entry) {
  if (!entry || entry.version === 0) return "empty";
  if (entry.rejected) return "error";
  if (isCommitted(entry)) return "committed";
  if (entry.ackedVersion >= entry.version) return "saved";
  return connection && connection.usable ? "saving" : "unsent";
}

function renderQuestionStatus(questionId) {
  const view = questionViews.get(questionId);
  if (!view) return;
  const entry = sheet.get(questionId);
  const state = questionState(entry);
  let text = t(`state_${state}`);
  if (state === "error") text = t("state_error", { code: entry.rejected });
  view.status.dataset.state = state;
  view.status.textContent = text;
  view.paletteButton.dataset.state = state;
  const answered = entry && entry.value ? t("answered") : t("not_answered");
  view.paletteButton.setAttribute("aria-label", t("palette_label", { no: view.no, answered, state: text }));
}

function renderOverallStatus() {
  const unsent = unsentCount();
  let state;
  let text;
  const link = connection ? connection.state : "connecting";
  if (link === "unauthorized" || closedReason === "AUT-002") {
    state = "signed-out";
    text = t("overall_signed_out", { n: unsent });
  } else if (link === "offline") {
    state = "offline";
    text = t("overall_offline", { n: unsent });
  } else if (link === "connecting" && (unsent > 0 || !recovered)) {
    state = "connecting";
    text = unsent > 0 ? t("overall_reconnecting", { n: unsent }) : t("overall_connecting");
    const busySeconds = Math.ceil(((connection ? connection.busyUntil : 0) - Date.now()) / 1000);
    if (busySeconds > 0) text = `${text} ${t("overall_busy", { s: busySeconds })}`;
  } else if (unsent > 0) {
    state = "saving";
    text = t("overall_saving", { n: unsent });
  } else {
    const states = [...sheet.values()].filter((entry) => entry.testCode === testCode).map(questionState);
    if (states.includes("error")) {
      state = "error";
      text = t("overall_error");
    } else if (states.includes("saved")) {
      state = "saved";
      text = t("overall_saved");
    } else if (states.includes("committed")) {
      state = "committed";
      text = t("overall_committed");
    } else {
      state = "idle";
      text = t("overall_idle");
    }
  }
  if (link === "fallback") text = `${text} ${t("overall_fallback")}`;
  const key = `${state}|${unsent}|${text}`;
  if (key === lastStatusKey) return;
  lastStatusKey = key;
  elements.status.dataset.state = state;
  elements.status.dataset.unsent = String(unsent);
  elements.status.textContent = text;
}

let timeOverPinged = null;

function renderCountdown() {
  const remaining = clock.remainingSeconds();
  if (remaining === 0 && timeOverPinged !== clock.deadlineMs && connection && connection.state === "open") {
    // The stage's time is over: ask the server for the clock once (it moves an AUTO_MOVE stage
    // on; the reply's stageId brings the next paper through recover).
    timeOverPinged = clock.deadlineMs;
    setTimeout(heartbeat, 1000);
  }
  const text = remaining === 0 ? t("time_over") : formatRemaining(remaining);
  if (elements.countdown.textContent !== text) elements.countdown.textContent = text;
  elements.countdown.dataset.seconds = remaining === null ? "" : String(remaining);
  if (remaining !== null) {
    for (const mark of ANNOUNCE_AT_SECONDS) {
      if (remaining <= mark && remaining > mark - 5 && lastAnnounced !== mark) {
        lastAnnounced = mark;
        elements.timeAnnouncer.textContent = t("time_left_minutes", { n: mark / 60 });
      }
    }
  }
}

function renderQuestionValue(questionId) {
  const view = questionViews.get(questionId);
  if (!view) return;
  const entry = sheet.get(questionId);
  const value = entry ? entry.value : "";
  if (view.type === "MULTIPLE_CHOICE") {
    for (const input of view.inputs) if (input.type === "radio") input.checked = input.value === value;
  } else {
    // Every input event is taken into the entry at once, so outside a composition the entry
    // holds what the field shows, unless the server's newer copy replaced it (applyRecover).
    if (!view.composing && view.input.value !== value) view.input.value = value;
    renderCounter(view);
  }
  renderQuestionStatus(questionId);
}

function renderCounter(view) {
  if (view.counter) view.counter.textContent = t("length_counter", { n: view.input.value.length, max: view.maxLength });
}

function buildMultipleChoice(question, view, fieldset) {
  const list = document.createElement("div");
  list.className = "choices";
  for (const choice of question.choices || []) {
    const label = document.createElement("label");
    label.className = "choice";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = `answer-${view.index}`;
    input.value = String(choice.value);
    input.addEventListener("change", () => {
      if (input.checked) answerChanged(question.id, input.value);
    });
    const mark = document.createElement("span");
    mark.className = "choice-no";
    mark.textContent = String(choice.value);
    const text = document.createElement("span");
    text.className = "choice-label";
    text.textContent = choice.label;
    label.append(input, mark, text);
    list.append(label);
    view.inputs.push(input);
  }
  fieldset.append(list);
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "secondary clear-answer";
  clear.textContent = t("clear_answer");
  clear.addEventListener("click", () => {
    for (const input of view.inputs) input.checked = false;
    answerChanged(question.id, "");
  });
  fieldset.append(clear);
  view.inputs.push(clear);
}

function buildShortAnswer(question, view, fieldset) {
  const id = `answer-${view.index}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = t("short_answer_label");
  const input = document.createElement("input");
  input.type = "text";
  input.id = id;
  input.autocomplete = "off";
  input.spellcheck = false;
  input.maxLength = question.maxLength || 1000;
  input.setAttribute("autocapitalize", "off");
  const counter = document.createElement("span");
  counter.className = "length-counter";
  counter.id = `${id}-counter`;
  input.setAttribute("aria-describedby", counter.id);
  view.input = input;
  view.counter = counter;
  view.maxLength = input.maxLength;
  view.composing = false;
  view.keyedSinceInput = false;
  view.inputs.push(input);

  // Korean (and every) input method: between compositionstart and compositionend the text holds
  // a syllable still being built; nothing is sent or journaled then. The committed text is taken
  // after compositionend (Chrome sends the last input before it, Safari after it: both end up in
  // answerChanged, and the unchanged second call is ignored).
  input.addEventListener("compositionstart", () => {
    view.composing = true;
  });
  input.addEventListener("compositionend", () => {
    view.composing = false;
    setTimeout(() => {
      if (!view.composing) answerChanged(question.id, input.value);
    }, 0);
  });
  input.addEventListener("keydown", (event) => {
    if (["Shift", "Control", "Alt", "Meta", "CapsLock", "Tab"].includes(event.key)) return;
    // A key pressed during composition arrives as keyCode 229 and again as an input event:
    // count the key here, once, and not its input.
    entryFor(question.id).behavior.keystrokes += 1;
    view.keyedSinceInput = true;
  });
  input.addEventListener("input", (event) => {
    if (!view.keyedSinceInput && event.inputType && event.inputType.startsWith("insert")) {
      // Text that arrived without a key press of its own (on-screen keyboard, dictation).
      entryFor(question.id).behavior.keystrokes += 1;
    }
    view.keyedSinceInput = false;
    renderCounter(view);
    if (view.composing || event.isComposing) return;
    answerChanged(question.id, input.value);
  });
  input.addEventListener("blur", () => {
    if (!view.composing) answerChanged(question.id, input.value);
  });
  fieldset.append(label, input, counter);
}

function renderQuestions() {
  elements.questions.replaceChildren();
  elements.palette.replaceChildren();
  questionViews = new Map();
  elements.stage.textContent = stageId ? t("stage_label", { stage: stageId, paper: testCode }) : "";
  questions.forEach((question, index) => {
    const section = document.createElement("section");
    section.className = "question";
    section.id = `question-${index}`;
    section.tabIndex = -1;
    section.hidden = true;
    section.dataset.questionId = question.id;
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.id = `question-${index}-legend`;
    const no = question.no || index + 1;
    legend.textContent = t("question_legend", { no, points: question.points ?? "" });
    section.setAttribute("aria-labelledby", legend.id);
    const body = document.createElement("p");
    body.className = "question-body";
    body.textContent = question.body || "";
    fieldset.append(legend, body);
    const status = document.createElement("p");
    status.className = "question-status";
    status.id = `question-${index}-status`;
    fieldset.setAttribute("aria-describedby", status.id);
    const paletteItem = document.createElement("li");
    const paletteButton = document.createElement("button");
    paletteButton.type = "button";
    paletteButton.className = "palette-button";
    paletteButton.textContent = String(no);
    paletteButton.addEventListener("click", () => showQuestion(index, { focus: true }));
    paletteItem.append(paletteButton);
    elements.palette.append(paletteItem);
    const view = { index, no, type: question.type, section, status, paletteButton, inputs: [] };
    questionViews.set(question.id, view);
    if (question.type === "MULTIPLE_CHOICE") buildMultipleChoice(question, view, fieldset);
    else buildShortAnswer(question, view, fieldset);
    section.addEventListener("click", () => {
      entryFor(question.id).behavior.clicks += 1;
    });
    section.append(fieldset, status);
    elements.questions.append(section);
    renderQuestionValue(question.id);
    if (submitted) for (const input of view.inputs) input.disabled = true;
  });
  elements.loading.hidden = true;
  elements.app.dataset.ready = "true";
  if (questions.length) showQuestion(Math.min(currentIndex, questions.length - 1), { focus: false, record: false });
  else elements.loading.hidden = false;
}

function showQuestion(index, { focus = true, record = true } = {}) {
  if (index < 0 || index >= questions.length) return;
  const from = currentQuestionId();
  accrueFocus();
  currentIndex = index;
  const to = questions[index].id;
  for (const [questionId, view] of questionViews) {
    const current = questionId === to;
    view.section.hidden = !current;
    if (current) view.paletteButton.setAttribute("aria-current", "step");
    else view.paletteButton.removeAttribute("aria-current");
  }
  if (record && from !== to) {
    navigation.push({ from: from || "", to, timestamp: serverNowIso() });
    if (navigation.length > KEEP_NAVIGATION) navigation = navigation.slice(-KEEP_NAVIGATION);
  }
  if (record || !entryFor(to).behavior.visits) entryFor(to).behavior.visits += 1;
  activeSince = attentive ? performance.now() : null;
  elements.prev.disabled = index === 0;
  elements.next.disabled = index === questions.length - 1;
  elements.position.textContent = t("position", { n: index + 1, total: questions.length });
  if (focus) questionViews.get(to).section.focus();
}

// Start -------------------------------------------------------------------------------------

function wireEvents() {
  elements.prev.addEventListener("click", () => showQuestion(currentIndex - 1));
  elements.next.addEventListener("click", () => showQuestion(currentIndex + 1));
  elements.submitOpen.addEventListener("click", openSubmitDialog);
  elements.submitCancel.addEventListener("click", () => elements.submitDialog.close());
  elements.submitConfirm.addEventListener("click", submitSheet);
  document.addEventListener("visibilitychange", () => {
    const visible = document.visibilityState === "visible";
    setAttentive(visible && document.hasFocus());
    if (visible) {
      // Timers were throttled while hidden: correct the clock and send what waited.
      renderCountdown();
      heartbeat();
      schedulePump(0);
    }
  });
  window.addEventListener("blur", () => setAttentive(false));
  window.addEventListener("focus", () => setAttentive(document.visibilityState === "visible"));
  let lastScroll = 0;
  const countScroll = () => {
    const now = performance.now();
    if (now - lastScroll > SCROLL_GESTURE_GAP_MS) {
      const questionId = currentQuestionId();
      if (questionId) entryFor(questionId).behavior.scrolls += 1;
    }
    lastScroll = now;
  };
  window.addEventListener("scroll", countScroll, { passive: true });
  window.addEventListener("wheel", countScroll, { passive: true });
  window.addEventListener("pagehide", () => accrueFocus());
  setInterval(renderCountdown, 250);
}

async function start() {
  journal = await Journal.open(owner);
  elements.app.dataset.journal = journal.kind;
  elements.app.dataset.journalPending = "0";
  journal.onPending = (count) => {
    elements.app.dataset.journalPending = String(count);
  };
  journal.onError = () => showAlert(t("journal_write_failed"));
  if (journal.kind === "memory") showAlert(t("journal_memory_only"));
  const { entries, meta } = await journal.load();
  focusLost = meta.focusLost || 0;
  for (const record of entries) {
    const entry = { ...newEntry(record.questionId), ...record };
    entry.behavior = { ...emptyBehavior(), ...(record.behavior || {}) };
    entry.dueAt = Date.now();
    sheet.set(record.questionId, entry);
  }
  if (Array.isArray(meta.questions) && meta.questions.length && meta.testCode) {
    // Render from the last known paper at once, so the page works before (or without) the server.
    questions = meta.questions;
    testCode = meta.testCode;
    stageId = meta.stageId || "";
    renderQuestions();
  }
  wireEvents();
  connection = new Connection({
    wsUrl: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.wsPath}`,
    syncUrl: config.syncUrl,
    recoverUrl: config.recoverUrl,
    onOpen,
    onUnsolicited,
    onState,
  });
  elements.app.dataset.connection = connection.state;
  renderOverallStatus();
  renderCountdown();
  connection.start();
}

start();
