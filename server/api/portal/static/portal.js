// Switchboard customer portal. A createPortalSession URL, /portal/{appId}/{recipientId}#token=…,
// opens this page; it lets the recipient's customer manage their own webhook endpoints through
// the Webhooks API, with the session token as the bearer credential.
//
// Rules this file keeps:
// - The token arrives in the URL fragment, which browsers never send to a server; it is taken
//   out of the address bar at once (so it is not bookmarked, shared or kept in history) and kept
//   in memory, and in sessionStorage so a reload of this tab works until the session expires.
// - Every value from the API reaches the page as text (text nodes, textContent, attribute values
//   set one by one): no HTML is ever built from data.
// - Every API call goes through call() and the API table, which portal_test.go checks against
//   openapi/webhooks.yaml (each path and method must exist and accept portal sessions).
"use strict";

(function () {
  const API_BASE = "/api/v1";

  // The Webhooks API operations this page calls, by operationId: [method, path below /api/v1].
  // Keep every call here, one per line, as literals: the test parses this table.
  const API = Object.freeze({
    getRecipient: ["GET", "/apps/{appId}/recipients/{recipientId}"],
    listEventTypes: ["GET", "/apps/{appId}/event-types"],
    listEndpoints: ["GET", "/apps/{appId}/recipients/{recipientId}/endpoints"],
    createEndpoint: ["POST", "/apps/{appId}/recipients/{recipientId}/endpoints"],
    getEndpoint: ["GET", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}"],
    updateEndpoint: ["PATCH", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}"],
    deleteEndpoint: ["DELETE", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}"],
    getEndpointSecret: ["GET", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}/secret"],
    rotateEndpointSecret: ["POST", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}/rotate-secret"],
    listEndpointAttempts: ["GET", "/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}/attempts"],
    listMessages: ["GET", "/apps/{appId}/messages"],
    getMessage: ["GET", "/apps/{appId}/messages/{messageId}"],
    listMessageAttempts: ["GET", "/apps/{appId}/messages/{messageId}/attempts"],
  });

  const PAGE_SIZE = 20;

  // --- Session -----------------------------------------------------------------------------

  // The ids come from the path the page was opened at: /portal/{appId}/{recipientId}.
  const segments = location.pathname.split("/");
  const session = { appId: decodeSegment(segments[2]), recipientId: decodeSegment(segments[3]) };
  const storageKey = "switchboard.portal." + session.appId + "." + session.recipientId;
  let token = takeToken();

  function decodeSegment(s) {
    try {
      return decodeURIComponent(s || "");
    } catch (e) {
      return "";
    }
  }

  function takeToken() {
    const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromFragment) {
      history.replaceState(null, "", location.pathname + location.search);
      try {
        sessionStorage.setItem(storageKey, fromFragment);
      } catch (e) {
        // Storage is off (private mode, policy): the token lives in memory only.
      }
      return fromFragment;
    }
    try {
      return sessionStorage.getItem(storageKey) || "";
    } catch (e) {
      return "";
    }
  }

  function forgetToken() {
    token = "";
    try {
      sessionStorage.removeItem(storageKey);
    } catch (e) {
      // Nothing stored.
    }
  }

  // --- API ---------------------------------------------------------------------------------

  // ApiError carries the Webhooks API's error body, {code, message, details?: [{field, message}]}.
  class ApiError extends Error {
    constructor(status, body) {
      const message = body && typeof body.message === "string" && body.message
        ? body.message
        : "The server answered " + status + ".";
      super(message);
      this.status = status;
      this.code = body && typeof body.code === "string" ? body.code : "";
      this.details = body && Array.isArray(body.details) ? body.details : [];
    }
  }

  // call runs one operation of the API table. params fill the path template (appId and
  // recipientId default to the session's); options.query is the query string, options.body the
  // JSON body. It resolves to the decoded response body (null for 204) or rejects with ApiError.
  async function call(op, params, options) {
    const entry = API[op];
    if (!entry) {
      throw new Error("The portal has no operation " + op);
    }
    const method = entry[0];
    const values = Object.assign({ appId: session.appId, recipientId: session.recipientId }, params);
    const path = entry[1].replace(/\{(\w+)\}/g, function (_, name) {
      if (values[name] === undefined || values[name] === null || values[name] === "") {
        throw new Error("No " + name + " for " + op);
      }
      return encodeURIComponent(String(values[name]));
    });
    const query = new URLSearchParams();
    const q = (options && options.query) || {};
    for (const name of Object.keys(q)) {
      if (q[name] !== undefined && q[name] !== null && q[name] !== "") {
        query.set(name, String(q[name]));
      }
    }
    const qs = query.toString();
    const init = {
      method: method,
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    };
    if (options && options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let res;
    try {
      res = await fetch(API_BASE + path + (qs ? "?" + qs : ""), init);
    } catch (e) {
      throw new ApiError(0, { message: "Could not reach the server. Check your connection and try again." });
    }
    const text = await res.text();
    let body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = null;
      }
    }
    if (res.status === 401) {
      forgetToken();
    }
    if (!res.ok) {
      throw new ApiError(res.status, body);
    }
    return body;
  }

  // The app's event types, archived ones too (flagged), for filters and forms: fetched each
  // time, as the app may publish new ones while the page is open.
  async function eventTypes() {
    const list = await call("listEventTypes", {}, { query: { includeArchived: true } });
    return list.data;
  }

  // --- DOM helpers -------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  // h creates an element. attrs: "class", on<event> (functions only), DOM properties given
  // non-string values (checked, disabled), anything else an attribute. Children are nodes or
  // values shown as text; null, undefined and false are skipped; arrays are flattened.
  function h(tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const name of Object.keys(attrs)) {
        const v = attrs[name];
        if (v === undefined || v === null || v === false) {
          continue;
        }
        if (name.startsWith("on")) {
          if (typeof v === "function") {
            el.addEventListener(name.slice(2), v);
          }
        } else if (name === "class") {
          el.className = v;
        } else if (typeof v === "boolean" || typeof v === "number") {
          if (name in el) {
            el[name] = v;
          } else {
            el.setAttribute(name, String(v));
          }
        } else {
          el.setAttribute(name, String(v));
        }
      }
    }
    append(el, Array.prototype.slice.call(arguments, 2));
    return el;
  }

  function append(el, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) {
        continue;
      }
      if (Array.isArray(c)) {
        append(el, c);
      } else if (c instanceof Node) {
        el.appendChild(c);
      } else {
        el.appendChild(document.createTextNode(String(c)));
      }
    }
  }

  let idSeq = 0;
  function newId(prefix) {
    idSeq += 1;
    return prefix + "-" + idSeq;
  }

  // act wraps an async click or change handler: one run at a time per element, errors shown.
  function act(fn) {
    return function (ev) {
      const el = ev && ev.currentTarget;
      if (el && el.getAttribute("aria-busy") === "true") {
        return;
      }
      if (el) {
        el.setAttribute("aria-busy", "true");
      }
      Promise.resolve()
        .then(function () { return fn(ev); })
        .catch(fail)
        .finally(function () {
          if (el) {
            el.removeAttribute("aria-busy");
          }
        });
    };
  }

  function button(label, onclick, kind) {
    return h("button", { type: "button", class: kind || null, onclick: onclick ? act(onclick) : null }, label);
  }

  function linkButton(label, onclick) {
    return h("button", { type: "button", class: "link", onclick: act(onclick) }, label);
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  function time(iso) {
    if (!iso) {
      return "—";
    }
    const d = new Date(iso);
    return h("time", { datetime: iso, title: iso }, isNaN(d.getTime()) ? iso : dateFormat.format(d));
  }

  const statusLabels = {
    active: "Active", paused: "Paused", disabled: "Disabled",
    pending: "Pending", held: "Held", delivered: "Delivered", failed: "Failed", no_endpoints: "No endpoints",
    succeeded: "Succeeded",
  };
  const statusTones = {
    active: "good", delivered: "good", succeeded: "good",
    paused: "warn", pending: "warn", held: "warn",
    disabled: "bad", failed: "bad",
  };

  function badge(status) {
    const known = Object.prototype.hasOwnProperty.call(statusLabels, status);
    const tone = Object.prototype.hasOwnProperty.call(statusTones, status) ? statusTones[status] : "neutral";
    return h("span", { class: "badge badge-" + tone }, known ? statusLabels[status] : String(status));
  }

  function eventTypesText(types) {
    return types && types.length ? types.join(", ") : "All event types";
  }

  function orDash(v) {
    return v === undefined || v === null || v === "" ? "—" : v;
  }

  // table builds a table; rows is a tbody or an array of rows.
  function table(caption, columns, rows) {
    const body = rows instanceof Node ? rows : h("tbody", null, rows);
    return h("div", { class: "table-wrap" },
      h("table", null,
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", null, h("tr", null, columns.map(function (c) { return h("th", { scope: "col" }, c); }))),
        body));
  }

  function fields(pairs) {
    return h("dl", { class: "fields" }, pairs.filter(Boolean).map(function (p) {
      return [h("dt", null, p[0]), h("dd", null, p[1])];
    }));
  }

  function heading(title, intro, actions) {
    document.title = title + " · Webhooks";
    return h("div", { class: "view-head" },
      h("div", null,
        h("h1", { tabindex: "-1" }, title),
        intro ? h("p", { class: "muted" }, intro) : null),
      actions && actions.length ? h("div", { class: "actions" }, actions) : null);
  }

  function backTo(label, view, params) {
    return h("p", { class: "back" }, linkButton("← " + label, function () { return go(view, params || {}); }));
  }

  function section(title, children) {
    const id = newId("section");
    return h("section", { "aria-labelledby": id }, h("h2", { id: id }, title), children);
  }

  function pre(text) {
    return h("pre", { tabindex: "0" }, text);
  }

  function pretty(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch (e) {
      return String(value);
    }
  }

  // --- Notices, errors and the confirmation dialog -------------------------------------------

  function notify(text) {
    const n = $("notice");
    n.textContent = text;
    n.hidden = !text;
  }

  function clearError() {
    const e = $("error");
    e.replaceChildren();
    e.hidden = true;
  }

  function showError(title, message, details) {
    const e = $("error");
    e.replaceChildren();
    append(e, [
      h("p", null, h("strong", null, title)),
      message ? h("p", null, message) : null,
      details && details.length
        ? h("ul", null, details.map(function (d) {
          return h("li", null, d && d.field ? d.field + ": " : null, d ? d.message : "");
        }))
        : null,
    ]);
    e.hidden = false;
    e.scrollIntoView({ block: "nearest" });
  }

  const errorTitles = {
    400: "The request was not accepted",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Limit reached",
  };

  // fail shows an error: a 401 ends the session; API errors show the API's message and details.
  function fail(err) {
    if (err instanceof ApiError) {
      if (err.status === 401) {
        renderState("Your session has expired",
          "Portal links work for a limited time, and this one has expired or is no longer valid. Go back " +
          "to the application that sent you here and open the webhooks portal again.");
        return;
      }
      const title = err.status === 0 ? "Connection problem"
        : errorTitles[err.status] || (err.status >= 500 ? "Something went wrong on our side" : "Request failed");
      showError(title, err.message, err.details);
      return;
    }
    showError("Something went wrong", err && err.message ? err.message : String(err));
    if (window.console) {
      console.error(err);
    }
  }

  // confirmAction asks before a destructive action; it resolves to true only if confirmed.
  function confirmAction(title, text, okLabel) {
    const dialog = $("confirm");
    if (typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(title + "\n\n" + text));
    }
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    return new Promise(function (resolve) {
      const ok = $("confirm-ok");
      const cancel = $("confirm-cancel");
      function done(result) {
        ok.removeEventListener("click", onOk);
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("close", onClose);
        if (dialog.open) {
          dialog.close();
        }
        resolve(result);
      }
      function onOk() { done(true); }
      function onCancel() { done(false); }
      function onClose() { done(false); } // Escape
      ok.addEventListener("click", onOk);
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("close", onClose);
      dialog.showModal();
      cancel.focus(); // the safe choice is the default
    });
  }

  // --- Navigation --------------------------------------------------------------------------

  const views = {
    endpoints: { section: "endpoints", render: viewEndpoints },
    endpoint: { section: "endpoints", render: viewEndpoint },
    endpointForm: { section: "endpoints", render: viewEndpointForm },
    messages: { section: "messages", render: viewMessages },
    message: { section: "messages", render: viewMessage },
    eventTypes: { section: "eventTypes", render: viewEventTypes },
  };

  let navSeq = 0; // bumped by every navigation: a view whose data arrives late is dropped
  let current = null;

  // go shows a view. how: "push" (default: a new history entry, so Back works), "replace",
  // "pop" (the browser already moved in history) or "initial" (the first view: replaces, and
  // leaves the focus where the browser put it).
  async function go(name, params, how) {
    if (!token) {
      return;
    }
    const view = views[name] || views.endpoints;
    name = views[name] ? name : "endpoints";
    params = params || {};
    const state = { view: name, params: params };
    if (how === "replace" || how === "initial") {
      history.replaceState(state, "", location.pathname);
    } else if (how !== "pop") {
      history.pushState(state, "", location.pathname);
    }
    current = state;
    const mine = ++navSeq;
    clearError();
    notify("");
    for (const b of $("nav").querySelectorAll("button")) {
      if (b.dataset.view === view.section) {
        b.setAttribute("aria-current", "page");
      } else {
        b.removeAttribute("aria-current");
      }
    }
    const main = $("main");
    main.setAttribute("aria-busy", "true");
    try {
      const nodes = await view.render(params);
      if (mine !== navSeq) {
        return;
      }
      const content = document.createDocumentFragment();
      append(content, [nodes]);
      main.replaceChildren(content);
      // Move the focus to the new view's heading, so keyboard and screen reader users start there.
      const h1 = main.querySelector("h1");
      if (h1 && how !== "initial") {
        h1.focus();
      }
    } catch (err) {
      if (mine === navSeq) {
        main.replaceChildren();
        fail(err);
      }
    } finally {
      if (mine === navSeq) {
        main.setAttribute("aria-busy", "false");
      }
    }
  }

  // reload shows the current view again, with fresh data, then the notice.
  async function reload(notice) {
    await go(current.view, current.params, "replace");
    if (notice) {
      notify(notice);
    }
  }

  // renderState replaces the page with a message and no navigation: no token, expired session.
  function renderState(title, text) {
    navSeq++;
    $("nav").hidden = true;
    clearError();
    notify("");
    document.title = title + " · Webhooks";
    const main = $("main");
    main.replaceChildren(h("div", { class: "state" }, h("h1", { tabindex: "-1" }, title), h("p", null, text)));
    main.setAttribute("aria-busy", "false");
    main.querySelector("h1").focus();
  }

  // --- Endpoints ---------------------------------------------------------------------------

  async function viewEndpoints() {
    const list = await call("listEndpoints");
    const head = heading("Endpoints",
      "The URLs we send your webhooks to. Each one receives the event types it subscribes to.",
      [button("Add endpoint", function () { return go("endpointForm", {}); }, "primary")]);
    if (!list.data.length) {
      return [head, h("p", { class: "empty" }, "You have no endpoints yet. Add one to start receiving webhooks.")];
    }
    const rows = list.data.map(function (ep) {
      return h("tr", null,
        h("td", { class: "url" }, linkButton(ep.url, function () { return go("endpoint", { endpointId: ep.endpointId }); })),
        h("td", null, orDash(ep.description)),
        h("td", null, badge(ep.status)),
        h("td", null, eventTypesText(ep.eventTypes)),
        h("td", null, time(ep.createdAt)));
    });
    return [head, table("Your endpoints", ["URL", "Description", "Status", "Event types", "Created"], rows)];
  }

  const statusHelp = {
    active: "Receives deliveries.",
    paused: "New deliveries are held, and sent when you resume the endpoint.",
    disabled: "Receives nothing: deliveries fail. Re-enable it to receive new ones.",
  };

  async function viewEndpoint(params) {
    const ep = await call("getEndpoint", { endpointId: params.endpointId });
    const actions = [button("Edit", function () { return go("endpointForm", { endpointId: ep.endpointId }); })];
    if (ep.status === "active") {
      actions.push(button("Pause", function () {
        return setStatus(ep, "paused", "Endpoint paused: new deliveries are held until you resume it.");
      }));
    } else {
      actions.push(button(ep.status === "paused" ? "Resume" : "Re-enable", function () {
        return setStatus(ep, "active", "Endpoint active: it receives deliveries again.");
      }));
    }
    actions.push(button("Delete", function () { return deleteEndpoint(ep); }, "danger"));
    const headerNames = Object.keys(ep.headers || {});
    return [
      backTo("All endpoints", "endpoints"),
      heading(ep.description || "Endpoint", null, actions),
      fields([
        ["URL", h("code", { class: "break" }, ep.url)],
        ["Status", [badge(ep.status), " ", statusHelp[ep.status] || ""]],
        ep.disabledReason ? ["Disabled because", ep.disabledReason] : null,
        ["Event types", eventTypesText(ep.eventTypes)],
        ["Description", orDash(ep.description)],
        headerNames.length ? ["Custom headers", headerNames.join(", ")] : null,
        ["Attempts per message", String(ep.maxAttempts)],
        ["Rate limit", ep.rateLimitPerMinute ? ep.rateLimitPerMinute + " deliveries a minute" : "None"],
        ["Created", time(ep.createdAt)],
        ["Updated", time(ep.updatedAt)],
      ]),
      secretSection(ep),
      section("Delivery attempts", await attemptsList("listEndpointAttempts", { endpointId: ep.endpointId }, {}, true)),
    ];
  }

  async function setStatus(ep, status, notice) {
    await call("updateEndpoint", { endpointId: ep.endpointId }, { body: { status: status } });
    await reload(notice);
  }

  async function deleteEndpoint(ep) {
    const ok = await confirmAction("Delete this endpoint?",
      ep.url + " will stop receiving webhooks, and its delivery attempts will be deleted. This cannot be undone.",
      "Delete endpoint");
    if (!ok) {
      return;
    }
    await call("deleteEndpoint", { endpointId: ep.endpointId });
    await go("endpoints", {}, "replace");
    notify("Endpoint deleted.");
  }

  // secretSection shows the signing secret only when asked: it is fetched on each reveal and
  // dropped from the page when hidden.
  function secretSection(ep) {
    const shown = h("div", { class: "secret-box" });
    const reveal = button("Reveal secret", async function () {
      showSecret(await call("getEndpointSecret", { endpointId: ep.endpointId }));
    });
    const rotate = button("Rotate secret", async function () {
      const ok = await confirmAction("Rotate the signing secret?",
        "A new secret signs deliveries from now on. The current one keeps signing too, for 24 hours, " +
        "so you can switch your verification over without losing a delivery.",
        "Rotate secret");
      if (!ok) {
        return;
      }
      showSecret(await call("rotateEndpointSecret", { endpointId: ep.endpointId }));
      notify("Secret rotated. Update your verification with the new secret within 24 hours.");
    });
    function hide() {
      shown.replaceChildren();
      reveal.hidden = false;
      reveal.focus();
    }
    function showSecret(s) {
      const code = h("code", { class: "secret break", tabindex: "-1" }, s.key);
      const previous = s.previousKeys || [];
      shown.replaceChildren();
      append(shown, [
        h("p", { class: "secret-line" }, h("span", { class: "visually-hidden" }, "Current secret: "), code, " ",
          button("Copy", function () { return copy(code, s.key); }), " ",
          button("Hide", hide)),
        previous.length
          ? h("div", null,
            h("p", { class: "muted" }, "Previous secrets still sign deliveries until they expire:"),
            h("ul", { class: "previous" }, previous.map(function (p) {
              return h("li", null, h("code", { class: "break" }, p.key), " — until ", time(p.expiresAt));
            })))
          : null,
      ]);
      reveal.hidden = true;
      code.focus();
    }
    return section("Signing secret", [
      h("p", { class: "muted" },
        "Every delivery carries a webhook-signature header made with this secret (Standard Webhooks). " +
        "Verify it to know a webhook came from us."),
      shown,
      h("div", { class: "actions" }, reveal, rotate),
    ]);
  }

  async function copy(el, text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      notify("Secret copied to the clipboard.");
      return;
    }
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    notify("Secret selected: press Ctrl+C (⌘C on a Mac) to copy it.");
  }

  async function viewEndpointForm(params) {
    const editing = Boolean(params.endpointId);
    const results = await Promise.all([
      editing ? call("getEndpoint", { endpointId: params.endpointId }) : null,
      eventTypes(),
    ]);
    const ep = results[0];
    const published = results[1].filter(function (t) { return !t.archived; }).map(function (t) { return t.name; });
    const chosen = ep ? ep.eventTypes : [];
    // A filter may name a type since archived: it stays listed so saving does not drop it silently.
    const names = published.concat(chosen.filter(function (n) { return published.indexOf(n) < 0; }));

    const urlId = newId("url");
    const urlHelp = newId("url-help");
    const url = h("input", {
      id: urlId, name: "url", type: "url", required: true, maxlength: "2000", autocomplete: "off",
      spellcheck: "false", placeholder: "https://example.com/webhooks", "aria-describedby": urlHelp,
      pattern: "https?://.+", title: "An http or https URL",
      value: ep ? ep.url : "",
    });
    const descId = newId("description");
    const description = h("input", {
      id: descId, name: "description", type: "text", maxlength: "500", value: ep ? ep.description : "",
    });
    const all = h("input", { type: "radio", name: "filter", value: "all", checked: chosen.length === 0 });
    const some = h("input", { type: "radio", name: "filter", value: "some", checked: chosen.length > 0 });
    const boxes = names.map(function (n) {
      return h("input", { type: "checkbox", name: "eventTypes", value: n, checked: chosen.indexOf(n) >= 0 });
    });
    const list = h("ul", { class: "checks" }, boxes.map(function (box, i) {
      const archived = published.indexOf(names[i]) < 0;
      return h("li", null, h("label", null, box, " ", h("code", null, names[i]), archived ? " (no longer published)" : null));
    }));
    function sync() {
      for (const b of boxes) {
        b.disabled = all.checked;
      }
    }
    all.addEventListener("change", sync);
    some.addEventListener("change", sync);
    sync();

    const submit = h("button", { type: "submit", class: "primary" }, editing ? "Save changes" : "Create endpoint");
    const cancel = button("Cancel", function () {
      return editing ? go("endpoint", { endpointId: ep.endpointId }) : go("endpoints", {});
    });
    const form = h("form", { class: "form" },
      h("div", { class: "field" },
        h("label", { for: urlId }, "URL"),
        url,
        h("p", { id: urlHelp, class: "hint" }, "An http or https URL that accepts POST requests.")),
      h("div", { class: "field" },
        h("label", { for: descId }, "Description ", h("span", { class: "muted" }, "(optional)")),
        description),
      h("fieldset", { class: "field" },
        h("legend", null, "Event types"),
        h("label", { class: "choice" }, all, " All event types, including ones added later"),
        h("label", { class: "choice" }, some, " Only the event types I pick:"),
        names.length ? list : h("p", { class: "muted" }, "No event types are published yet.")),
      h("div", { class: "actions" }, submit, cancel));

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (submit.getAttribute("aria-busy") === "true") {
        return;
      }
      const picked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      if (some.checked && picked.length === 0) {
        showError("Pick at least one event type", "Or choose “All event types”.");
        return;
      }
      clearError();
      const body = { url: url.value.trim(), description: description.value.trim() };
      body.eventTypes = some.checked ? picked : [];
      submit.setAttribute("aria-busy", "true");
      const done = editing
        ? call("updateEndpoint", { endpointId: ep.endpointId }, { body: body }).then(function (saved) {
          return go("endpoint", { endpointId: saved.endpointId }, "replace").then(function () {
            notify("Endpoint saved.");
          });
        })
        : call("createEndpoint", {}, { body: body }).then(function (created) {
          return go("endpoint", { endpointId: created.endpointId }, "replace").then(function () {
            notify("Endpoint created. Reveal its signing secret to verify the webhooks it receives.");
          });
        });
      done.catch(fail).finally(function () { submit.removeAttribute("aria-busy"); });
    });

    return [
      editing ? backTo("Endpoint", "endpoint", { endpointId: ep.endpointId }) : backTo("All endpoints", "endpoints"),
      heading(editing ? "Edit endpoint" : "Add an endpoint", null, []),
      form,
    ];
  }

  // --- Attempts ----------------------------------------------------------------------------

  // pager loads the pages of a list operation (the API's nextCursor) into a table, the first
  // before it resolves, the next ones on "Load more".
  async function pager(op, params, query, caption, columns, row, emptyText) {
    const tbody = h("tbody");
    const tableEl = table(caption, columns, tbody);
    const status = h("p", { class: "muted" });
    const more = h("button", { type: "button" }, "Load more");
    let next = null;
    let shown = 0;
    async function load(cursor) {
      const page = await call(op, params, { query: Object.assign({}, query, { limit: PAGE_SIZE, cursor: cursor }) });
      for (const item of page.data) {
        tbody.appendChild(row(item));
      }
      shown += page.data.length;
      next = page.nextCursor || null;
      more.hidden = !next;
      tableEl.hidden = shown === 0;
      status.textContent = shown === 0 ? emptyText : next ? "Showing the first " + shown + "." : "Showing all " + shown + ".";
    }
    more.addEventListener("click", act(function () { return load(next); }));
    await load(undefined);
    return h("div", null, tableEl, h("div", { class: "pager" }, status, more));
  }

  function attemptColumns(withMessage) {
    return ["Time", "Result", "Response", "Duration", "Attempt", withMessage ? "Message" : "Endpoint", "Error"];
  }

  function attemptRow(a, withMessage, endpointUrls) {
    const response = a.responseStatusCode === null || a.responseStatusCode === undefined ? "—" : String(a.responseStatusCode);
    const body = a.responseBody
      ? h("details", null, h("summary", null, "Response body"), pre(a.responseBody))
      : null;
    return h("tr", null,
      h("td", null, time(a.createdAt)),
      h("td", null, badge(a.status)),
      h("td", null, response),
      h("td", null, a.durationMs + " ms"),
      h("td", null, "#" + a.attemptNumber + (a.trigger === "replay" ? " (replay)" : "")),
      h("td", { class: "url" }, withMessage
        ? linkButton(a.messageId, function () { return go("message", { messageId: a.messageId }); })
        : (endpointUrls && endpointUrls[a.endpointId]) || a.endpointId),
      h("td", { class: "wide" }, orDash(a.error),
        a.nextAttemptAt ? h("div", { class: "muted" }, "Next attempt: ", time(a.nextAttemptAt)) : null,
        body));
  }

  // attemptsList is a filterable (by result), paged list of attempts.
  async function attemptsList(op, params, query, withMessage, endpointUrls) {
    const box = h("div");
    const selectId = newId("result");
    const select = h("select", { id: selectId },
      h("option", { value: "" }, "Any"),
      h("option", { value: "succeeded" }, "Succeeded"),
      h("option", { value: "failed" }, "Failed"));
    const supportsResult = op === "listEndpointAttempts"; // only that operation filters by status
    async function fill() {
      const q = Object.assign({}, query);
      if (supportsResult && select.value) {
        q.status = select.value;
      }
      box.replaceChildren(await pager(op, params, q, "Delivery attempts", attemptColumns(withMessage),
        function (a) { return attemptRow(a, withMessage, endpointUrls); }, "No delivery attempts yet."));
    }
    select.addEventListener("change", act(fill));
    await fill();
    return [
      supportsResult ? h("div", { class: "filters" }, h("label", { for: selectId }, "Result"), select) : null,
      box,
    ];
  }

  // --- Messages ----------------------------------------------------------------------------

  const messageStatuses = ["pending", "delivered", "failed", "no_endpoints"];

  async function viewMessages(params) {
    const types = await eventTypes();
    const statusId = newId("status");
    const typeId = newId("type");
    const status = h("select", { id: statusId },
      h("option", { value: "" }, "Any"),
      messageStatuses.map(function (s) { return h("option", { value: s, selected: params.status === s }, statusLabels[s]); }));
    const type = h("select", { id: typeId },
      h("option", { value: "" }, "Any"),
      types.map(function (t) { return h("option", { value: t.name, selected: params.eventType === t.name }, t.name); }));
    function refilter() {
      return go("messages", { status: status.value, eventType: type.value }, "replace");
    }
    status.addEventListener("change", act(refilter));
    type.addEventListener("change", act(refilter));
    const list = await pager("listMessages", {}, { status: params.status, eventType: params.eventType },
      "Messages", ["Created", "Event type", "Message", "Status"],
      function (m) {
        return h("tr", null,
          h("td", null, time(m.createdAt)),
          h("td", null, h("code", null, m.eventType)),
          h("td", { class: "url" }, linkButton(m.messageId, function () { return go("message", { messageId: m.messageId }); })),
          h("td", null, badge(m.status)));
      },
      params.status || params.eventType ? "No messages match these filters." : "No messages yet.");
    return [
      heading("Messages", "The events sent to you, newest first, with how their delivery went.", []),
      h("div", { class: "filters" },
        h("label", { for: statusId }, "Status"), status,
        h("label", { for: typeId }, "Event type"), type),
      list,
    ];
  }

  async function viewMessage(params) {
    const m = await call("getMessage", { messageId: params.messageId });
    const deliveries = m.deliveries || [];
    const urls = {};
    for (const d of deliveries) {
      urls[d.endpointId] = d.url;
    }
    const deliveryRows = deliveries.map(function (d) {
      return h("tr", null,
        h("td", { class: "url" }, d.url),
        h("td", null, badge(d.status)),
        h("td", null, String(d.attempts)),
        h("td", null, d.lastStatusCode === null ? "—" : String(d.lastStatusCode)),
        h("td", null, orDash(d.lastError)),
        h("td", null, time(d.nextAttemptAt)),
        h("td", null, time(d.deliveredAt)));
    });

    const endpointId = newId("endpoint");
    const only = h("select", { id: endpointId },
      h("option", { value: "" }, "All endpoints"),
      deliveries.map(function (d) {
        return h("option", { value: d.endpointId, selected: params.endpointId === d.endpointId }, d.url);
      }));
    only.addEventListener("change", act(function () {
      return go("message", { messageId: m.messageId, endpointId: only.value }, "replace");
    }));
    const attempts = await attemptsList("listMessageAttempts", { messageId: m.messageId },
      { endpointId: params.endpointId }, false, urls);

    return [
      backTo("All messages", "messages"),
      heading("Message", null, []),
      fields([
        ["Message id", h("code", { class: "break" }, m.messageId)],
        ["Event type", h("code", null, m.eventType)],
        ["Status", badge(m.status)],
        ["Created", time(m.createdAt)],
      ]),
      section("Payload", pre(pretty(m.data))),
      section("Deliveries", deliveries.length
        ? table("Deliveries per endpoint", ["Endpoint", "Status", "Attempts", "Last response", "Last error", "Next attempt", "Delivered"], deliveryRows)
        : h("p", { class: "empty" }, "No endpoint subscribed to this event type when it was sent.")),
      section("Delivery attempts", [
        deliveries.length > 1 ? h("div", { class: "filters" }, h("label", { for: endpointId }, "Endpoint"), only) : null,
        attempts,
      ]),
    ];
  }

  // --- Event types -------------------------------------------------------------------------

  async function viewEventTypes() {
    const list = await call("listEventTypes");
    const head = heading("Event types", "The events you can subscribe an endpoint to.", []);
    if (!list.data.length) {
      return [head, h("p", { class: "empty" }, "No event types are published yet.")];
    }
    const rows = list.data.map(function (t) {
      return h("tr", null,
        h("td", null, h("code", null, t.name)),
        h("td", null, orDash(t.description),
          t.examplePayload ? h("details", null, h("summary", null, "Example payload"), pre(pretty(t.examplePayload))) : null,
          t.schema ? h("details", null, h("summary", null, "Schema"), pre(pretty(t.schema))) : null));
    });
    return [head, table("Event types", ["Name", "Description"], rows)];
  }

  // --- Start -------------------------------------------------------------------------------

  function start() {
    for (const b of $("nav").querySelectorAll("button")) {
      b.addEventListener("click", function () { go(b.dataset.view, {}); });
    }
    window.addEventListener("popstate", function (ev) {
      if (ev.state && ev.state.view) {
        go(ev.state.view, ev.state.params, "pop");
      }
    });
    // A portal link opened in a tab already showing this page changes only the fragment, which
    // loads nothing: take its token here.
    window.addEventListener("hashchange", function () {
      if (new URLSearchParams(location.hash.slice(1)).get("token")) {
        token = takeToken();
        open();
      }
    });
    open();
  }

  function open() {
    if (!session.appId || !session.recipientId) {
      renderState("This link is incomplete", "Open the webhooks portal from the application that sent you here.");
      return;
    }
    if (!token) {
      renderState("Open the portal from your application",
        "This page needs the link your application gives you, which signs you in for a limited time. " +
        "Go back to it and open the webhooks portal again.");
      return;
    }
    $("nav").hidden = false;
    call("getRecipient").then(function (r) {
      $("who").textContent = r.name ? r.name + " (" + r.recipientId + ")" : r.recipientId;
    }).catch(function (err) {
      // The views report errors; a 401 here means the session is over.
      if (err instanceof ApiError && err.status === 401) {
        fail(err);
      }
    });
    // A reload keeps the view the tab was on (history state survives reloads).
    const initial = history.state && views[history.state.view] ? history.state : { view: "endpoints", params: {} };
    go(initial.view, initial.params, "initial");
  }

  start();
})();
