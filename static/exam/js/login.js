// Sign-in (docs/protocol.md, "Signing in"): POST /api/v1/examinee/login sets the session cookie
// that the exam page and its socket use; then the browser goes to the exam page. A refusal shows
// the server's message with its code (AUT-001 for a wrong plan, ID or code, never saying which).

import { errorText, t } from "./strings.js";

const config = JSON.parse(document.getElementById("login-config").textContent);
const form = document.getElementById("login-form");
const alert = document.getElementById("login-error");
const button = document.getElementById("login-submit");

function showError(text) {
  alert.textContent = text;
  alert.hidden = false;
  alert.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = {
    planId: String(data.get("planId") || "").trim(),
    examineeId: String(data.get("examineeId") || "").trim(),
    accessCode: String(data.get("accessCode") || "").trim(),
  };
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  alert.hidden = true;
  try {
    let response;
    try {
      response = await fetch(config.loginUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      showError(t("network_error"));
      return;
    }
    let reply = null;
    try {
      reply = await response.json();
    } catch (error) {
      reply = null;
    }
    if (response.ok && reply && reply.token) {
      window.location.assign(config.examUrl);
      return;
    }
    showError(reply && reply.type === "error" ? errorText(reply) : t("error_http", { status: response.status }));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
});
