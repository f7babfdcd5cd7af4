// The page's words come translated from the server (a JSON script tag rendered with gettext in
// the active language, Korean first), so the JavaScript holds no user-facing text of its own.

let table = null;

function load() {
  if (table === null) {
    const element = document.getElementById("page-strings");
    table = element ? JSON.parse(element.textContent) : {};
  }
  return table;
}

/** The translated string `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = load()[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A server error as the page shows it: the server's message with its code. */
export function errorText(reply) {
  const message = reply && typeof reply.message === "string" && reply.message ? reply.message : t("error_unknown");
  return reply && reply.code ? t("error_with_code", { message, code: reply.code }) : message;
}
