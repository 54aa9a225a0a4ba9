// Switchboard dashboard, at /dashboard/. A signed-in workspace user manages API keys, Dispatch
// (apps, event types, recipients, endpoints, messages, attempts, replays, portals), Ingest
// (sources, events, destinations, issues), Activities, and reads Channels and Calling.
//
// Rules this file keeps:
// - Sign-in is Reten's: POST /api/auth/login gives an access token, kept in memory only, and
//   sets the refresh token as an HTTP-only cookie. A reload asks /api/auth/refresh for the next
//   token, sending the csrfToken cookie back as x-csrf-token (double submit).
// - Every call is a public API operation, made with the access token as a bearer credential
//   and the chosen workspace as x-tenant-id: no private endpoint.
// - Every value from the API reaches the page as text (text nodes, textContent, attribute values
//   set one by one): no HTML is ever built from data.
// - Every API call goes through call() and the API table, which dashboard_test.go checks
//   against the specs (each path and method must exist, under its surface's prefix).
"use strict";

(function () {
  // The operations this page calls, by operationId: [method, path]. Keep every call here, one
  // per line, as literals: the test parses this table.
  const API = Object.freeze({
    login: ["POST", "/api/auth/login"],
    refreshSession: ["POST", "/api/auth/refresh"],
    logout: ["POST", "/api/auth/logout"],
    getCurrentUser: ["GET", "/api/auth/me"],
    listUserApiKeys: ["GET", "/api/api-keys"],
    createUserApiKey: ["POST", "/api/api-keys"],
    revokeUserApiKey: ["DELETE", "/api/api-keys/{id}"],
    listApps: ["GET", "/api/v1/apps"],
    createApp: ["POST", "/api/v1/apps"],
    listEventTypes: ["GET", "/api/v1/apps/{appId}/event-types"],
    publishEventType: ["PUT", "/api/v1/apps/{appId}/event-types/{eventTypeName}"],
    listRecipients: ["GET", "/api/v1/apps/{appId}/recipients"],
    createRecipient: ["POST", "/api/v1/apps/{appId}/recipients"],
    createPortalSession: ["POST", "/api/v1/apps/{appId}/recipients/{recipientId}/portal-sessions"],
    listEndpoints: ["GET", "/api/v1/apps/{appId}/recipients/{recipientId}/endpoints"],
    createEndpoint: ["POST", "/api/v1/apps/{appId}/recipients/{recipientId}/endpoints"],
    listMessages: ["GET", "/api/v1/apps/{appId}/messages"],
    sendMessage: ["POST", "/api/v1/apps/{appId}/messages"],
    getMessage: ["GET", "/api/v1/apps/{appId}/messages/{messageId}"],
    listMessageAttempts: ["GET", "/api/v1/apps/{appId}/messages/{messageId}/attempts"],
    replayMessage: ["POST", "/api/v1/apps/{appId}/messages/{messageId}/replay"],
    createBulkReplay: ["POST", "/api/v1/apps/{appId}/replays"],
    getBulkReplay: ["GET", "/api/v1/apps/{appId}/replays/{replayId}"],
    getAppDeliveryStats: ["GET", "/api/v1/apps/{appId}/delivery-stats"],
    listSources: ["GET", "/api/v1/ingest/sources"],
    listEvents: ["GET", "/api/v1/ingest/events"],
    getEventRaw: ["GET", "/api/v1/ingest/events/{eventId}/raw"],
    replayEvent: ["POST", "/api/v1/ingest/events/{eventId}/replay"],
    listDestinations: ["GET", "/api/v1/ingest/destinations"],
    getDestinationDeliveryStats: ["GET", "/api/v1/ingest/destinations/{destinationId}/delivery-stats"],
    listIssues: ["GET", "/api/v1/ingest/issues"],
    updateIssue: ["PATCH", "/api/v1/ingest/issues/{issueId}"],
    replayIssue: ["POST", "/api/v1/ingest/issues/{issueId}/replay"],
    listActivities: ["GET", "/api/activities"],
    getActivity: ["GET", "/api/activities/{id}"],
    listActivityStatusEvents: ["GET", "/api/activities/{id}/status-events"],
    listActivityDispatchAttempts: ["GET", "/api/activities/{id}/dispatch-attempts"],
    cancelActivity: ["PATCH", "/api/activities/{id}/cancel"],
    listActivityAttributes: ["GET", "/api/activities/{id}/attributes"],
    listActivityTargetUsers: ["GET", "/api/activities/{id}/target-users"],
    retryActivityResolution: ["PATCH", "/api/activities/{id}/retry-resolution"],
    listChannels: ["GET", "/workspaces/{workspaceId}/channels"],
    listContacts: ["GET", "/workspaces/{workspaceId}/contacts"],
    listConfigurations: ["GET", "/calling/configurations"],
    listBlacklist: ["GET", "/calling/blacklist"],
    decideCall: ["POST", "/calling/configurations/{id}/decisions"],
  });

  // --- Session -----------------------------------------------------------------------------

  const state = { token: "", user: null, workspaces: [], workspace: null, view: "dispatch", app: null, recipient: null };

  function csrfToken() {
    for (const part of document.cookie.split(";")) {
      const [name, value] = part.trim().split("=");
      if (name === "csrfToken") {
        return value || "";
      }
    }
    return "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      let message = "The server answered " + status + ".";
      if (body && typeof body.message === "string" && body.message) {
        message = body.message;
      } else if (body && typeof body.detail === "string") {
        message = body.detail;
      }
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  // call runs one operation of the API table. params fill the path template (workspaceId
  // defaults to the chosen workspace); options.query is the query string, options.body the JSON
  // body, options.text asks for the body as text. It resolves to the decoded body (null for
  // 204) or rejects with ApiError; a 401 refreshes the access token once and tries again.
  async function call(op, params, options, retried) {
    const entry = API[op];
    if (!entry) {
      throw new Error("The dashboard has no operation " + op);
    }
    const values = Object.assign({ workspaceId: state.workspace ? state.workspace.id : "" }, params);
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
    const auth = op === "login" || op === "refreshSession" || op === "logout";
    const headers = { Accept: "application/json" };
    if (auth) {
      headers["x-csrf-token"] = csrfToken();
    } else {
      headers.Authorization = "Bearer " + state.token;
      if (state.workspace) {
        headers["x-tenant-id"] = state.workspace.id;
      }
    }
    const init = { method: entry[0], headers: headers, credentials: auth ? "same-origin" : "omit", cache: "no-store" };
    if (options && options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let res;
    try {
      res = await fetch(path + (qs ? "?" + qs : ""), init);
    } catch (e) {
      throw new ApiError(0, { message: "Could not reach the server." });
    }
    const text = await res.text();
    if (res.status === 401 && !auth && !retried && (await refresh())) {
      return call(op, params, options, true);
    }
    let body = null;
    if (text && !(options && options.text && res.ok)) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = null;
      }
    }
    if (!res.ok) {
      throw new ApiError(res.status, body);
    }
    return options && options.text ? text : body;
  }

  async function refresh() {
    if (!csrfToken()) {
      return false;
    }
    try {
      const s = await call("refreshSession", {}, {});
      state.token = s.accessToken;
      return true;
    } catch (e) {
      return false;
    }
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
      if (c === null || c === undefined || c === false) {
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

  function pretty(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch (e) {
      return String(value);
    }
  }

  function when(t) {
    return t ? new Date(t).toLocaleString() : "—";
  }

  function button(label, onclick, attrs) {
    return h("button", Object.assign({ type: "button", onclick: guarded(onclick) }, attrs || {}), label);
  }

  // guarded runs an action, showing its failure instead of losing it.
  function guarded(f) {
    return async function (ev) {
      if (ev && ev.preventDefault) {
        ev.preventDefault();
      }
      clearError();
      try {
        await f(ev);
      } catch (e) {
        showError(e);
      }
    };
  }

  function form(id, fields, submitLabel, onsubmit) {
    return h("form", { id: id, class: "inline", onsubmit: guarded(onsubmit) }, fields, h("button", { type: "submit", id: id + "-submit" }, submitLabel));
  }

  function field(label, input) {
    return h("label", null, h("span", null, label), input);
  }

  function table(columns, rows, onrow) {
    return h("table", null,
      h("thead", null, h("tr", null, columns.map(function (c) { return h("th", null, c[0]); }))),
      h("tbody", null, rows.length === 0
        ? h("tr", null, h("td", { colspan: columns.length, class: "muted" }, "Nothing yet."))
        : rows.map(function (r) {
          return h("tr", { class: onrow ? "clickable" : null, onclick: onrow ? guarded(function () { return onrow(r); }) : null },
            columns.map(function (c) { return h("td", null, c[1](r)); }));
        })));
  }

  function section(title, id, children) {
    return h("section", { id: id }, h("h2", null, title), children);
  }

  function clearError() {
    const e = $("error");
    e.replaceChildren();
    e.hidden = true;
  }

  function showError(err) {
    const e = $("error");
    const errors = err && err.body && Array.isArray(err.body.errors) ? err.body.errors
      : err && err.body && Array.isArray(err.body.details) ? err.body.details.map(function (d) { return (d.field ? d.field + ": " : "") + d.message; })
        : [];
    e.replaceChildren();
    append(e, [h("p", null, h("strong", null, err && err.status === 404 ? "Not available" : "Something went wrong")),
      h("p", null, err ? err.message : ""), errors.length ? h("ul", null, errors.map(function (x) { return h("li", null, String(x)); })) : null]);
    e.hidden = false;
  }

  function notify(text) {
    const n = $("notice");
    n.textContent = text;
    n.hidden = !text;
  }

  // --- Sign-in ------------------------------------------------------------------------------

  function showLogin() {
    state.token = "";
    $("nav").hidden = true;
    $("who").replaceChildren();
    const main = $("main");
    main.replaceChildren(h("h1", null, "Sign in"),
      form("login", [
        field("Email", h("input", { id: "login-email", type: "email", autocomplete: "username", required: true })),
        field("Password", h("input", { id: "login-password", type: "password", autocomplete: "current-password", required: true, minlength: "8" })),
      ], "Sign in", async function () {
        const s = await call("login", {}, { body: { identifier: $("login-email").value, password: $("login-password").value } });
        state.token = s.accessToken;
        await start();
      }));
  }

  async function start() {
    const me = await call("getCurrentUser", {}, {});
    state.user = me.user;
    state.workspaces = me.workspaces;
    state.workspace = me.workspaces[0] || null;
    const select = h("select", { id: "workspace", "aria-label": "Workspace", onchange: guarded(function () {
      state.workspace = state.workspaces.find(function (w) { return w.id === select.value; });
      state.app = null;
      return render();
    }) }, me.workspaces.map(function (w) { return h("option", { value: w.id }, w.name + " (" + w.role + ")"); }));
    $("who").replaceChildren(h("span", { id: "user-email" }, me.user.email), " ", select, " ",
      button("Sign out", async function () {
        await call("logout", {}, {});
        showLogin();
      }, { id: "logout" }));
    $("nav").hidden = false;
    if (!state.workspace) {
      $("main").replaceChildren(h("p", null, "You are not a member of any workspace yet."));
      return;
    }
    await render();
  }

  async function render() {
    clearError();
    notify("");
    for (const b of $("nav").querySelectorAll("button")) {
      b.setAttribute("aria-current", b.dataset.view === state.view ? "page" : "false");
    }
    const main = $("main");
    main.setAttribute("aria-busy", "true");
    try {
      main.replaceChildren(await views[state.view]());
    } catch (e) {
      main.replaceChildren();
      showError(e);
    }
    main.setAttribute("aria-busy", "false");
  }

  // --- API keys -----------------------------------------------------------------------------

  async function keysView() {
    const keys = await call("listUserApiKeys", {}, {});
    const boxes = state.workspace.permissions.map(function (p) {
      return h("label", { class: "check" }, h("input", { type: "checkbox", value: p, name: "perm", "data-perm": p }), p);
    });
    return h("div", null, h("h1", null, "API keys"),
      h("p", { class: "muted" }, "Keys hold some of your role's permissions in this workspace. A key is shown once, when it is created."),
      form("key-form", [field("Name", h("input", { id: "key-name", required: true, maxlength: "200" })), h("fieldset", null, h("legend", null, "Permissions"), boxes)],
        "Create key", async function () {
          const perms = boxes.map(function (b) { return b.querySelector("input"); }).filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
          const k = await call("createUserApiKey", {}, { body: { name: $("key-name").value, permissions: perms } });
          await render();
          $("main").prepend(h("div", { class: "secret", id: "new-key-box" }, h("p", null, "Copy the key now: it is not shown again."),
            h("code", { id: "new-key" }, k.key), " ", button("Copy", function () { return navigator.clipboard.writeText(k.key); })));
        }),
      table([["Name", function (k) { return k.name; }], ["Prefix", function (k) { return k.prefix + "…"; }],
        ["Permissions", function (k) { return k.permissions.join(", "); }], ["Created", function (k) { return when(k.createdAt); }],
        ["", function (k) {
          return k.revokedAt ? "revoked " + when(k.revokedAt) : button("Revoke", async function () {
            await call("revokeUserApiKey", { id: k.id }, {});
            await render();
          }, { class: "danger" });
        }]], keys));
  }

  // --- Dispatch -----------------------------------------------------------------------------

  async function dispatchView() {
    const apps = (await call("listApps", {}, { query: { limit: 100 } })).data;
    if (!state.app && apps.length) {
      state.app = apps[0].appId;
    }
    const out = h("div", null, h("h1", null, "Dispatch"),
      section("Apps", "apps", [
        table([["Name", function (a) { return a.name; }], ["App id", function (a) { return a.appId; }],
          ["", function (a) { return a.appId === state.app ? "selected" : ""; }]], apps, function (a) { state.app = a.appId; state.recipient = null; return render(); }),
        form("app-form", [field("New app", h("input", { id: "app-name", required: true, placeholder: "Billing webhooks" }))], "Create app", async function () {
          const a = await call("createApp", {}, { body: { name: $("app-name").value } });
          state.app = a.appId;
          await render();
        }),
      ]));
    if (!state.app) {
      return out;
    }
    const appId = state.app;
    const [types, recipients, messages] = await Promise.all([
      call("listEventTypes", { appId: appId }, { query: { includeArchived: true } }),
      call("listRecipients", { appId: appId }, { query: { limit: 100 } }),
      call("listMessages", { appId: appId }, { query: { limit: 20 } }),
    ]);
    append(out, [
      section("Event types", "event-types", [
        table([["Name", function (t) { return t.name; }], ["Description", function (t) { return t.description || ""; }],
          ["", function (t) { return t.archived ? "archived" : ""; }]], types.data),
        form("event-type-form", [field("Name", h("input", { id: "event-type-name", required: true, placeholder: "invoice.paid" }))], "Publish", async function () {
          await call("publishEventType", { appId: appId, eventTypeName: $("event-type-name").value }, { body: {} });
          await render();
        }),
      ]),
      section("Recipients", "recipients", [
        table([["Recipient", function (r) { return r.recipientId; }], ["Name", function (r) { return r.name || ""; }],
          ["", function (r) {
            return h("span", null, button("Endpoints", function () { state.recipient = r.recipientId; return render(); }), " ",
              button("Open portal", async function () {
                const s = await call("createPortalSession", { appId: appId, recipientId: r.recipientId }, { body: { expiresInSeconds: 3600 } });
                window.open(s.url, "_blank", "noopener");
              }));
          }]], recipients.data),
        form("recipient-form", [field("Recipient id", h("input", { id: "recipient-id", required: true, placeholder: "customer_123" }))], "Add recipient", async function () {
          const r = await call("createRecipient", { appId: appId }, { body: { recipientId: $("recipient-id").value } });
          state.recipient = r.recipientId;
          await render();
        }),
      ]),
    ]);
    if (state.recipient) {
      const recipientId = state.recipient;
      const endpoints = await call("listEndpoints", { appId: appId, recipientId: recipientId }, {});
      out.appendChild(section("Endpoints of " + recipientId, "endpoints", [
        table([["URL", function (e) { return e.url; }], ["Status", function (e) { return e.status; }],
          ["Event types", function (e) { return e.eventTypes.length ? e.eventTypes.join(", ") : "all"; }]], endpoints.data),
        form("endpoint-form", [field("URL", h("input", { id: "endpoint-url", type: "url", required: true, placeholder: "https://example.com/hooks" }))], "Add endpoint", async function () {
          await call("createEndpoint", { appId: appId, recipientId: recipientId }, { body: { url: $("endpoint-url").value } });
          await render();
        }),
      ]));
    }
    const typeSelect = h("select", { id: "message-event-type" }, types.data.filter(function (t) { return !t.archived; }).map(function (t) { return h("option", { value: t.name }, t.name); }));
    append(out, [
      section("Send a message", "send", form("message-form", [
        field("Event type", typeSelect),
        field("Recipient", h("input", { id: "message-recipient", value: state.recipient || "", placeholder: "from the routing key" })),
        field("Data (JSON)", h("textarea", { id: "message-data", rows: "3" }, "{}")),
      ], "Send", async function () {
        const body = { eventType: typeSelect.value, data: JSON.parse($("message-data").value || "{}") };
        if ($("message-recipient").value) {
          body.recipientId = $("message-recipient").value;
        }
        const m = await call("sendMessage", { appId: appId }, { body: body });
        await showMessage(appId, m.messageId);
      })),
      section("Messages", "messages", [
        table([["Message", function (m) { return m.messageId; }], ["Event type", function (m) { return m.eventType; }],
          ["Recipient", function (m) { return m.recipientId; }], ["Status", function (m) { return m.status; }], ["Created", function (m) { return when(m.createdAt); }]],
          messages.data, function (m) { return showMessage(appId, m.messageId); }),
        form("bulk-replay-form", [field("Replay failed deliveries since", h("input", { id: "bulk-since", type: "datetime-local", required: true }))], "Bulk replay", async function () {
          const r = await call("createBulkReplay", { appId: appId }, { body: { since: new Date($("bulk-since").value).toISOString() } });
          const s = await call("getBulkReplay", { appId: appId, replayId: r.replayId }, {});
          notify("Bulk replay " + s.replayId + ": " + s.status);
        }),
      ]),
    ]);
    return out;
  }

  async function showMessage(appId, messageId) {
    const [m, attempts] = await Promise.all([
      call("getMessage", { appId: appId, messageId: messageId }, {}),
      call("listMessageAttempts", { appId: appId, messageId: messageId }, { query: { limit: 100 } }),
    ]);
    $("main").replaceChildren(h("div", { id: "message-detail" },
      h("p", null, button("← Dispatch", function () { return render(); })),
      h("h1", null, "Message ", h("code", { id: "message-id" }, m.messageId)),
      h("p", null, "Event type ", m.eventType, " · recipient ", m.recipientId, " · status ", h("strong", { id: "message-status" }, m.status)),
      section("Payload", "payload", h("pre", { id: "message-payload" }, pretty(m.data))),
      section("Deliveries", "deliveries", table([["Endpoint", function (d) { return d.endpointId; }], ["Status", function (d) { return d.status; }],
        ["Next attempt", function (d) { return when(d.nextAttemptAt); }]], m.deliveries || [])),
      section("Attempts", "attempts", table([["#", function (a) { return a.attemptNumber; }], ["Trigger", function (a) { return a.trigger; }],
        ["Status", function (a) { return a.status; }], ["Response", function (a) { return a.responseStatusCode === null ? "—" : a.responseStatusCode; }],
        ["Response body", function (a) { return h("pre", { class: "small" }, a.responseBody === null ? "" : a.responseBody); }],
        ["Error", function (a) { return a.error || ""; }], ["At", function (a) { return when(a.createdAt); }]], attempts.data)),
      h("p", null, button("Refresh", function () { return showMessage(appId, messageId); }, { id: "message-refresh" }), " ",
        button("Replay", async function () {
          const r = await call("replayMessage", { appId: appId, messageId: messageId }, { body: {} });
          notify("Replayed to " + r.endpoints + " endpoint(s).");
          await showMessage(appId, messageId);
        }, { id: "message-replay" }))));
  }

  // --- Ingest -------------------------------------------------------------------------------

  async function ingestView() {
    const [sources, events, destinations, issues] = await Promise.all([
      call("listSources", {}, { query: { limit: 100 } }),
      call("listEvents", {}, { query: { limit: 50 } }),
      call("listDestinations", {}, { query: { limit: 100 } }),
      call("listIssues", {}, { query: { limit: 100 } }),
    ]);
    const raw = h("pre", { id: "event-raw", hidden: true });
    const issueAction = function (i, label, status) {
      return button(label, async function () {
        await call("updateIssue", { issueId: i.issueId }, { body: { status: status } });
        await render();
      }, { "data-issue": i.issueId, "data-action": status });
    };
    return h("div", null, h("h1", null, "Ingest"),
      section("Sources", "sources", table([["Name", function (s) { return s.name; }], ["Type", function (s) { return s.type; }],
        ["Status", function (s) { return s.status; }], ["URL", function (s) { return h("code", null, s.url); }]], sources.data)),
      section("Recent events", "events", [table([["Event", function (e) { return e.eventId; }], ["Type", function (e) { return e.eventType || "—"; }],
        ["Status", function (e) { return e.status; }], ["Verification", function (e) { return e.verification && typeof e.verification === "object" ? [e.verification.status, e.verification.failureReason].filter(Boolean).join(": ") : String(e.verification); }],
        ["Received", function (e) { return when(e.receivedAt); }],
        ["", function (e) {
          return button("Replay", async function () {
            await call("replayEvent", { eventId: e.eventId }, { body: {} });
            notify("Event " + e.eventId + " replayed.");
          });
        }]], events.data, async function (e) {
        raw.textContent = await call("getEventRaw", { eventId: e.eventId }, { text: true });
        raw.hidden = false;
      }), raw]),
      section("Destinations", "destinations", table([["Name", function (d) { return d.name || ""; }], ["URL", function (d) { return d.url; }],
        ["Status", function (d) { return d.status; }]], destinations.data)),
      section("Issues", "issues", table([["Title", function (i) { return i.title; }], ["Type", function (i) { return i.type; }],
        ["Status", function (i) { return h("span", { "data-issue-status": i.issueId }, i.status); }], ["Occurrences", function (i) { return i.occurrences; }],
        ["Last seen", function (i) { return when(i.lastSeenAt); }],
        ["", function (i) {
          if (i.status === "resolved") {
            return "";
          }
          return h("span", null, i.status === "open" ? issueAction(i, "Acknowledge", "acknowledged") : null, " ",
            issueAction(i, "Resolve", "resolved"), " ",
            i.type === "delivery" ? button("Replay", async function () {
              await call("replayIssue", { issueId: i.issueId }, {});
              notify("Issue " + i.title + " replayed.");
            }) : null);
        }]], issues.data)));
  }

  // --- Activities ---------------------------------------------------------------------------

  async function activitiesView(filters) {
    filters = filters || {};
    const page = await call("listActivities", {}, { query: Object.assign({ limit: 20 }, filters) });
    const status = h("select", { id: "activity-status" }, ["", "READY", "UNRESOLVED", "DISPATCHED", "COMPLETED", "CANCELED", "FAILED"].map(function (s) {
      return h("option", { value: s, selected: s === (filters.status || "") }, s || "any status");
    }));
    const search = h("input", { id: "activity-search", value: filters.search || "", placeholder: "search" });
    return h("div", null, h("h1", null, "Activities"),
      form("activity-filter", [field("Status", status), field("Search", search)], "Filter", async function () {
        $("main").replaceChildren(await activitiesView({ status: status.value, search: search.value }));
      }),
      table([["Activity", function (a) { return h("code", { "data-activity": a.id }, a.id); }], ["Type", function (a) { return a.type; }], ["Channel", function (a) { return a.channel; }],
        ["Status", function (a) { return a.status; }], ["Scheduled", function (a) { return when(a.scheduledAt); }]], page.data, function (a) { return showActivity(a.id); }),
      h("p", { class: "muted" }, page.meta.total + " activities"));
  }

  // showActivity shows an activity with its target users, attributes, status events and
  // dispatch attempts. answered is the activity as an action (retry-resolution) answered it:
  // shown as is, the lists fetched anew.
  async function showActivity(id, answered) {
    const [a, targets, attributes, events, attempts] = await Promise.all([
      answered || call("getActivity", { id: id }, {}),
      call("listActivityTargetUsers", { id: id }, {}),
      call("listActivityAttributes", { id: id }, {}),
      call("listActivityStatusEvents", { id: id }, {}),
      call("listActivityDispatchAttempts", { id: id }, {}),
    ]);
    const name = function (u) {
      const n = u.commerceUser ? [u.commerceUser.firstName, u.commerceUser.lastName].filter(Boolean).join(" ") : "";
      return u.commerceUserId ? [n ? h("span", null, n, " ") : null, h("code", null, u.commerceUserId)] : "—";
    };
    $("main").replaceChildren(h("div", { id: "activity-detail" },
      h("p", null, button("← Activities", function () { return render(); })),
      h("h1", null, "Activity ", h("code", { id: "activity-id" }, a.id)),
      h("p", null, a.type, " · ", a.channel, " · status ", h("strong", { id: "activity-detail-status" }, a.status)),
      section("Target users", "targets", table([["User", name],
        ["Resolution", function (u) { return h("span", { "data-target-status": u.id }, u.resolutionStatus); }],
        ["Strategy", function (u) { return u.resolutionStrategy; }], ["Lock reason", function (u) { return u.lockReason || "—"; }],
        ["Contact", function (u) { return u.contact ? u.contact.type + " " + u.contact.value : "—"; }],
        ["Resolved", function (u) { return when(u.resolvedAt); }], ["Locked", function (u) { return when(u.lockedAt); }],
        ["Error", function (u) { return u.errorMessage || ""; }]], targets)),
      section("Attributes", "attributes", table([["Key", function (x) { return x.key; }], ["Resolution", function (x) { return x.resolutionStatus; }],
        ["Strategy", function (x) { return x.resolutionStrategy; }], ["Resolver", function (x) { return x.resolverType || "—"; }],
        ["Value", function (x) { return h("pre", { class: "small" }, pretty(x.value)); }], ["Resolved", function (x) { return when(x.resolvedAt); }],
        ["Error", function (x) { return x.errorMessage || ""; }]], attributes)),
      section("Status events", "status-events", table([["Event", function (e) { return e.eventType; }],
        ["Status", function (e) { return (e.fromStatus || "—") + " → " + e.toStatus; }], ["Error code", function (e) { return e.errorCode || ""; }],
        ["Error", function (e) { return e.errorMessage || ""; }], ["At", function (e) { return when(e.occurredAt); }]], events)),
      section("Dispatch attempts", "dispatch-attempts", table([["#", function (x) { return x.attempt; }], ["Provider", function (x) { return x.providerCode || "—"; }],
        ["Response", function (x) { return x.statusCode === null ? "—" : x.statusCode; }], ["Duration", function (x) { return x.durationMs + " ms"; }],
        ["External id", function (x) { return x.externalId || ""; }], ["Error", function (x) { return x.error || ""; }],
        ["Started", function (x) { return when(x.startedAt); }]], attempts)),
      h("p", null, a.status === "UNRESOLVED" ? [button("Retry resolution", async function () {
        const r = await call("retryActivityResolution", { id: id }, {});
        notify("Resolution retried: " + r.status + ".");
        await showActivity(id, r);
      }, { id: "activity-retry" }), " "] : null,
      button("Cancel activity", async function () {
        await call("cancelActivity", { id: id }, {});
        await showActivity(id);
      }, { class: "danger" }))));
  }

  // --- Channels and Calling -----------------------------------------------------------------

  async function channelsView() {
    const [channels, contacts] = await Promise.all([call("listChannels", {}, { query: { limit: 100 } }), call("listContacts", {}, { query: { limit: 100 } })]);
    return h("div", null, h("h1", null, "Channels"),
      section("Channels", "channels", table([["Name", function (c) { return c.name; }], ["Platform", function (c) { return c.platformId; }],
        ["Status", function (c) { return c.status; }], ["Created", function (c) { return when(c.createdAt); }]], channels.results || [])),
      section("Contacts", "contacts", h("pre", null, pretty(contacts))));
  }

  async function callingView() {
    const [configs, blacklist] = await Promise.all([call("listConfigurations", {}, {}), call("listBlacklist", {}, {})]);
    const config = h("select", { id: "decision-config" }, configs.map(function (c) { return h("option", { value: c.id }, c.template + " · " + c.id); }));
    const direction = h("select", { id: "decision-direction" }, h("option", { value: "outbound" }, "outbound"), h("option", { value: "inbound" }, "inbound"));
    const result = h("pre", { id: "decision-result" });
    return h("div", null, h("h1", null, "Calling"),
      section("Configurations", "configurations", h("pre", null, pretty(configs))),
      section("Blacklist", "blacklist", h("pre", null, pretty(blacklist))),
      section("Decision tester", "decision", [form("decision-form", [field("Configuration", config), field("Direction", direction),
        field("Number", h("input", { id: "decision-number", required: true, placeholder: "+31612345678" }))], "Decide", async function () {
        const d = await call("decideCall", { id: config.value }, { body: { direction: direction.value, number: $("decision-number").value } });
        result.textContent = pretty(d);
      }), result]));
  }

  // --- Delivery health ----------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs)) {
      el.setAttribute(k, String(attrs[k]));
    }
    return el;
  }

  // chart draws one bar per minute: successes up from the axis, failures down from it.
  function chart(title, stats) {
    const w = Math.max(stats.data.length, 1) * 3;
    const top = Math.max(1, ...stats.data.map(function (m) { return Math.max(m.succeeded, m.failed); }));
    const el = svg("svg", { viewBox: "0 0 " + w + " 100", class: "chart", role: "img", "aria-label": title, preserveAspectRatio: "none" });
    el.appendChild(svg("line", { x1: 0, x2: w, y1: 50, y2: 50, class: "axis" }));
    let ok = 0;
    let failed = 0;
    stats.data.forEach(function (m, i) {
      ok += m.succeeded;
      failed += m.failed;
      if (m.succeeded) {
        el.appendChild(svg("rect", { x: i * 3, width: 2, y: 50 - (50 * m.succeeded) / top, height: (50 * m.succeeded) / top, class: "ok" }));
      }
      if (m.failed) {
        el.appendChild(svg("rect", { x: i * 3, width: 2, y: 50, height: (50 * m.failed) / top, class: "failed" }));
      }
    });
    return h("figure", null, el, h("figcaption", null, title, ": ", h("span", { class: "ok-text" }, ok + " succeeded"), ", ",
      h("span", { class: "failed-text" }, failed + " failed"), " (", when(stats.since), " – ", when(stats.until), ")"));
  }

  async function healthView() {
    const hours = Number(($("health-hours") && $("health-hours").value) || 3);
    const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
    const [apps, destinations] = await Promise.all([call("listApps", {}, { query: { limit: 100 } }), call("listDestinations", {}, { query: { limit: 100 } })]);
    const charts = await Promise.all(apps.data.map(async function (a) {
      return chart("App " + a.name, await call("getAppDeliveryStats", { appId: a.appId }, { query: { since: since } }));
    }).concat(destinations.data.map(async function (d) {
      return chart("Destination " + (d.name || d.url), await call("getDestinationDeliveryStats", { destinationId: d.destinationId }, { query: { since: since } }));
    })));
    const select = h("select", { id: "health-hours", onchange: guarded(render) }, [1, 3, 6, 12, 24].map(function (n) {
      return h("option", { value: n, selected: n === hours }, "last " + n + " h");
    }));
    return h("div", null, h("h1", null, "Delivery health"), h("p", null, select),
      h("p", { class: "muted" }, "Attempts per minute: successes above the line, failures below."),
      charts.length ? charts : h("p", { class: "muted" }, "No apps or destinations yet."));
  }

  const views = { health: healthView, keys: keysView, dispatch: dispatchView, ingest: ingestView, activities: activitiesView, channels: channelsView, calling: callingView };

  document.addEventListener("DOMContentLoaded", function () {
    for (const b of $("nav").querySelectorAll("button")) {
      b.addEventListener("click", guarded(function () {
        state.view = b.dataset.view;
        return render();
      }));
    }
    guarded(async function () {
      if (await refresh()) {
        await start();
      } else {
        showLogin();
      }
    })();
  });
})();
