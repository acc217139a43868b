// The tokens page (admin): the daemon's tokens a page at a time (GET /tokens,
// X-Total-Count), a form to create one (POST /tokens: its secret is shown
// once, here) and revoking (DELETE /tokens/:id) after a confirmation.
import { h, when, call, report, clearBanners, lacksScope, whoami, setHashParams, plural, scroller } from "./lib.js";

const PER_PAGE = 20;
const SCOPES = ["read", "write", "admin", "worker"];

export async function tokensPage(view, params) {
  view.append(h("h1", {}, "Tokens"));
  const why = await lacksScope("admin");
  if (why) {
    view.append(h("p", { id: "tokens-denied", class: "empty" }, "Tokens are managed with an admin token: this page " + why + "."));
    return;
  }
  let me = null;
  try { me = await whoami(); } catch (_) { /* the list works without knowing which is ours */ }

  // -- create
  const nameInput = h("input", { id: "token-name", name: "name", maxlength: 200, autocomplete: "off", placeholder: "ci, alice's laptop" });
  const scopeSel = h("select", { id: "token-scope", name: "scope" }, SCOPES.map((s) => h("option", { value: s }, s)));
  const createBtn = h("button", { id: "token-create", type: "submit" }, "Create token");
  const secretBox = h("div", { id: "token-secret", hidden: true });
  const form = h("form", { id: "token-create-form", class: "card" },
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "token-name" }, "name"), nameInput),
      h("div", { class: "field" }, h("label", { for: "token-scope" }, "scope"), scopeSel),
      createBtn),
    secretBox);
  view.append(h("h2", {}, "Create a token"), form);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    createBtn.disabled = true;
    clearBanners();
    try {
      const body = { scope: scopeSel.value };
      if (nameInput.value.trim()) body.name = nameInput.value.trim();
      const t = await (await call("POST", "/tokens", { body })).json();
      nameInput.value = "";
      showSecret(t);
      await load();
    } catch (e) {
      report(e);
    } finally {
      createBtn.disabled = false;
    }
  });

  function showSecret(t) {
    const value = h("code", { id: "token-secret-value" }, t.token);
    const copied = h("span", { id: "token-copied", role: "status", class: "muted" });
    const copyBtn = h("button", { id: "token-copy", type: "button" }, "Copy");
    copyBtn.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(t.token);
        copied.textContent = "Copied.";
      } catch (_) {
        // no clipboard (an insecure origin, a refused permission): select it for Ctrl+C
        const range = document.createRange();
        range.selectNodeContents(value);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        copied.textContent = "Selected: copy it with Ctrl+C.";
      }
    });
    secretBox.replaceChildren(
      h("p", { class: "warning" }, h("strong", {}, "Copy this token now: "),
        "the daemon keeps only its hash and shows it never again. Token #" + t.id +
        (t.name ? " (" + t.name + ")" : "") + ", scope " + t.scope + ":"),
      h("p", { class: "secret" }, value, " ", copyBtn, " ", copied));
    secretBox.hidden = false;
    copyBtn.focus();
  }

  // -- the list
  const listBox = h("div", { id: "tokens-box" });
  const pager = h("nav", { class: "pager", "aria-label": "pages of tokens" });
  view.append(h("h2", {}, "Tokens in use"), listBox, pager);
  let page = Math.max(1, Number(params && params.get("page")) || 1);

  async function load() {
    const res = await call("GET", "/tokens?per_page=" + PER_PAGE + "&page=" + page);
    const tokens = await res.json();
    const total = Number(res.headers.get("X-Total-Count")) || 0;
    const pages = Math.max(1, Math.ceil(total / PER_PAGE));
    if (!tokens.length && page > pages) {
      // the last page emptied (revoked): the one before
      page = pages;
      setHashParams({ page: page > 1 ? page : "" });
      return load();
    }
    listBox.replaceChildren(scroller(h("table", { id: "tokens" },
      h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Name"), h("th", {}, "Scope"),
        h("th", {}, "Created"), h("th", {}, "Last used"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, tokens.map((t) => tokenRow(t)),
        tokens.length ? null : h("tr", {}, h("td", { class: "empty", colspan: 6 }, "No tokens."))))));
    const go = (p) => () => {
      page = p;
      setHashParams({ page: p > 1 ? p : "" }, { push: true });
      load().catch(report);
    };
    pager.replaceChildren(
      h("span", { id: "tokens-total" }, plural(total, "token") + (pages > 1 ? " · page " + page + " of " + pages : "")),
      ...(pages > 1 ? [
        h("button", { type: "button", class: "plain", id: "tokens-prev", disabled: page <= 1, onclick: go(page - 1) }, "Previous"),
        h("button", { type: "button", class: "plain", id: "tokens-next", disabled: page >= pages, onclick: go(page + 1) }, "Next")] : []));
  }

  function tokenRow(t) {
    const mine = me && me.id === t.id;
    const actions = h("td", { class: "actions" });
    const revokeBtn = h("button", { type: "button", class: "plain revoke" }, "Revoke");
    actions.append(revokeBtn);
    revokeBtn.addEventListener("click", () => {
      const yes = h("button", { type: "button", class: "danger confirm-revoke" }, "Yes, revoke");
      const no = h("button", { type: "button", class: "plain keep" }, "Keep");
      actions.replaceChildren(h("span", { role: "alert" }, "Revoke token #" + t.id + (t.name ? " (" + t.name + ")" : "") + "?" +
        (mine ? " It is the token this page uses: the page will ask for another." : "") +
        " Whatever uses it is refused from then on. "), yes, " ", no);
      no.addEventListener("click", () => { actions.replaceChildren(revokeBtn); revokeBtn.focus(); });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        clearBanners();
        try {
          await call("DELETE", "/tokens/" + t.id);
          await load();
        } catch (e) {
          report(e);
          yes.disabled = false;
        }
      });
      no.focus();
    });
    return h("tr", { dataset: { token: t.id } },
      h("td", {}, "#" + t.id),
      h("td", { class: "name" }, t.name || h("span", { class: "muted" }, "(no name)"),
        mine ? h("span", { class: "muted" }, " (this page's token)") : null),
      h("td", { class: "scope" }, t.scope),
      h("td", {}, when(t.created_at)),
      h("td", {}, t.last_used_at ? when(t.last_used_at) : h("span", { class: "muted" }, "never")),
      actions);
  }

  await load();
}
