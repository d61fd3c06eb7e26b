// The login page, shown when `baton server local` runs with basic auth
// (BATON_SERVER_BASIC_AUTH) and the page's API call was answered 401, as
// Kestra's UI shows its login form rather than the browser's prompt. The
// credentials are posted once to `/auth/login`; accepted, the server sets a
// signed session cookie (`baton_session`: HttpOnly, SameSite=Strict, no
// password in it) that carries the login on the page's fetches, event
// streams and downloads, so this page never holds or reads it. Logout (the
// menu) posts `/auth/logout`, which ends the session on the server and
// clears the cookie, and comes back here. Past the bound on failed logins
// the server answers 429, and the form shows its message.

import { h, go, errorBox } from "./app.js";

/** Whether the page holds a login session (`GET /auth/session`). */
export async function loggedIn() {
  try {
    const r = await fetch("/auth/session", { headers: { "X-Requested-With": "XMLHttpRequest" } });
    return r.ok && (await r.json()).session === true;
  } catch {
    return false;
  }
}

/** Ends the login session: the server clears its cookie. */
export async function logout() {
  await fetch("/auth/logout", { method: "POST", headers: { "X-Requested-With": "XMLHttpRequest" } });
}

export async function render(main, _parts, query) {
  const next = query.get("next") || "#/flows";
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const out = h("div", { "data-testid": "login-error" });
  const submit = async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    let status;
    let answer;
    try {
      answer = await fetch("/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest" },
        body: JSON.stringify({ username: user.value, password: password.value }),
      });
      status = answer.status;
    } catch (e) {
      out.replaceChildren(errorBox(`the server cannot be reached: ${e.message}`));
      return;
    }
    if (status === 429) {
      // too many failed logins: the server names the bound and the wait
      const body = await answer.json().catch(() => ({}));
      const wait = answer.headers.get("Retry-After");
      out.replaceChildren(errorBox(body.message || `too many failed logins: retry in ${wait} s`));
      return;
    }
    if (status === 401) {
      out.replaceChildren(errorBox("Invalid username or password"));
      password.select();
      return;
    }
    if (status !== 200) {
      out.replaceChildren(errorBox(`the login failed: HTTP ${status}`));
      return;
    }
    document.body.classList.remove("login");
    go(next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/flows");
  };
  document.body.classList.add("login");
  main.append(
    h("form", { class: "form login-form", "data-testid": "login-form", onsubmit: submit },
      h("h1", {}, h("img", { src: "/ui/favicon.svg", alt: "" }), " Baton"),
      h("p", { class: "muted" }, "This server asks for a username and password (basic auth)."),
      h("label", {}, h("span", {}, "Username"), user),
      h("label", {}, h("span", {}, "Password"), password),
      out,
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Login"))));
  return () => document.body.classList.remove("login");
}
