// Scenarios for tests/tests/ui.rs, loaded by drive.mjs: behind basic auth
// the UI shows its login page (not the browser's prompt), refuses a wrong
// password with a message, reaches the flows list with the right one, its
// own API calls then carry the login (a signed HttpOnly session cookie no
// script reads), and Logout ends the session and returns to the login page.

const USER = "admin@kestra.io";
const PASSWORD = "Admin1234!";

export function scenarios({ url, check, shot, text }) {
  return {
    async login(page) {
      // a Kestra link into the UI, without credentials: the login page
      await page.goto(url + "/ui/main/flows");
      const form = page.locator("[data-testid=login-form]");
      await form.waitFor({ timeout: 15000 });
      check(await page.locator("#menu").isHidden(), "the menu is hidden on the login page");
      await form.locator("[name=username]").fill(USER);
      await form.locator("[name=password]").fill("wrong");
      await form.locator("button[type=submit]").click();
      await form.locator("[data-testid=login-error]").getByText("Invalid username or password").waitFor({ timeout: 5000 });
      await form.locator("[name=password]").fill(PASSWORD);
      await shot(page, "login");
      await form.locator("button[type=submit]").click();
      // back to the page asked for: the flows list, loaded by the API with the login
      await page.locator("[data-testid=flows]").waitFor({ timeout: 15000 });
      check(page.url().includes("/ui/main/flows"), `back on the flows list: ${page.url()}`);
      const listed = await text(page.locator("[data-testid=flows]"));
      check(listed.includes("typed"), `the flows are listed: ${listed}`);
      const status = await page.evaluate(async () => (await fetch("/api/v1/flows/distinct-namespaces")).status);
      check(status === 200, `the page's own calls carry the login: ${status}`);
      // the login is a signed session the page's scripts cannot read (HttpOnly), with no password in it
      const visible = await page.evaluate(() => document.cookie);
      check(!visible.includes("baton_session") && !visible.includes("baton_auth"), `no script reads the login: ${visible}`);
      const [cookie] = (await page.context().cookies()).filter((c) => c.name === "baton_session");
      check(cookie && cookie.httpOnly && cookie.sameSite === "Strict", `an HttpOnly, SameSite=Strict session cookie: ${JSON.stringify(cookie)}`);
      check(!Buffer.from(cookie.value.split(".")[1] || "", "base64url").toString().includes(PASSWORD) && !cookie.value.includes(Buffer.from(PASSWORD).toString("base64")), "no password in the cookie");
      const expiresIn = cookie.expires - Date.now() / 1000;
      check(expiresIn > 11.9 * 3600 && expiresIn <= 12 * 3600 + 5, `the session lasts 12 h: ${expiresIn} s`);
      await page.locator("[data-testid=logout]").waitFor({ timeout: 5000 });
      // Logout: back to the login page, and the API refuses the page again
      await page.locator("[data-testid=logout]").click();
      await form.waitFor({ timeout: 5000 });
      const after = await page.evaluate(async () => (await fetch("/api/v1/flows/distinct-namespaces")).status);
      check(after === 401, `after Logout the API wants the login again: ${after}`);
      await page.goto(url + "#/executions");
      await form.waitFor({ timeout: 15000 });
      console.log("logged in and out");
    },
  };
}
