// The login page, shown when `baton server local` runs with basic auth
// (BATON_SERVER_BASIC_AUTH) and the page's API call was answered 401, as
// Kestra's UI shows its login form rather than the browser's prompt. The
// credentials are checked with one API call carrying them; accepted, they
// are kept in the `baton_auth` session cookie (base64 `user:password`,
// SameSite=Strict), which the server reads as it reads an Authorization
// header, so the page's fetches, event streams and downloads carry them.
// Logout (the menu) clears the cookie and comes back here.

import { h, go, errorBox } from "./app.js";

export const AUTH_COOKIE = "baton_auth";

/** `user:password` as the base64 an Authorization: Basic header carries (UTF-8). */
export function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return btoa(String.fromCharCode(...bytes));
}

/** Whether the page holds a login (the cookie is set). */
export function loggedIn() {
  return document.cookie.split(";").some((c) => c.trim().startsWith(AUTH_COOKIE + "="));
}

/** Forgets the login: the cookie is cleared. */
export function logout() {
  document.cookie = `${AUTH_COOKIE}=; path=/; max-age=0; SameSite=Strict`;
}

export async function render(main, _parts, query) {
  const next = query.get("next") || "#/flows";
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const out = h("div", { "data-testid": "login-error" });
  const submit = async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const token = basic(user.value, password.value);
    let status;
    try {
      const r = await fetch("/api/v1/flows/distinct-namespaces", { headers: { Authorization: `Basic ${token}`, "X-Requested-With": "XMLHttpRequest" } });
      status = r.status;
    } catch (e) {
      out.replaceChildren(errorBox(`the server cannot be reached: ${e.message}`));
      return;
    }
    if (status === 401) {
      out.replaceChildren(errorBox("Invalid username or password"));
      password.select();
      return;
    }
    document.cookie = `${AUTH_COOKIE}=${token}; path=/; SameSite=Strict`;
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
