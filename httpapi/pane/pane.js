// The task pane: plain JavaScript over the mailcorrelate HTTP API. Every
// value from an email is written with textContent, never as HTML: email is
// written by strangers.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { raw: "", decision: null, email: null, id: "", busy: false };

  // The token: from the URL fragment the server printed (#token=…, never
  // sent to the server), else from this tab's session storage.
  (function initToken() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem("mailcorrelate.token", decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    $("token").value = sessionStorage.getItem("mailcorrelate.token") || "";
    $("actor").value = sessionStorage.getItem("mailcorrelate.actor") || "";
    $("token").addEventListener("change", () => sessionStorage.setItem("mailcorrelate.token", $("token").value.trim()));
    $("actor").addEventListener("change", () => sessionStorage.setItem("mailcorrelate.actor", $("actor").value.trim()));
  })();

  class APIError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || ("HTTP " + status));
      this.status = status;
      this.code = e.code || "";
      this.regarding = e.regarding || "";
    }
  }

  async function api(method, path, body, contentType) {
    const headers = { "Authorization": "Bearer " + $("token").value.trim() };
    const actor = $("actor").value.trim();
    if (actor) headers["X-Actor"] = actor;
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : (contentType ? body : JSON.stringify(body)),
    });
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new APIError(res.status, data);
    return data;
  }

  const enc = encodeURIComponent;
  const emailPath = (id, rest) => "/v1/emails/" + enc(id) + (rest || "");

  function notice(text, isError) {
    const n = $("notice");
    n.textContent = text;
    n.className = isError ? "error" : "";
    n.hidden = !text;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function li(parts) {
    const item = document.createElement("li");
    for (const [text, cls] of parts) {
      const span = document.createElement("span");
      span.textContent = text;
      if (cls) span.className = cls;
      item.appendChild(span);
      item.appendChild(document.createTextNode(" "));
    }
    return item;
  }

  function when(iso) { return iso ? iso.replace("T", " ").replace(/:\d\dZ$/, "Z").replace(/\.\d+Z$/, "Z") : ""; }

  // read posts the raw message to /v1/correlate, then asks whether it is
  // tracked, and shows everything.
  async function read(raw) {
    state.raw = raw;
    state.id = "";
    notice("");
    try {
      state.decision = await api("POST", "/v1/correlate", raw, "message/rfc822");
      state.id = state.decision.message_id;
      await refresh();
    } catch (e) {
      notice(e.message, true);
    }
  }

  // refresh re-reads the email's tracked state, its record's emails and
  // its history.
  async function refresh() {
    state.email = null;
    if (state.id) {
      try {
        state.email = await api("GET", emailPath(state.id));
      } catch (e) {
        if (e.status !== 404) throw e;
      }
    }
    render();
    await loadTimeline();
    await loadHistory();
  }

  function render() {
    const d = state.decision, t = state.email;
    $("email").hidden = false;
    $("relink").hidden = false;
    $("convert").hidden = false;
    $("subject").textContent = d.subject || "(no subject)";
    const from = d.participants && d.participants.from ? d.participants.from : null;
    $("from").textContent = from ? (from.name ? from.name + " <" + from.address + ">" : from.address) : "";
    $("mid").textContent = state.id || "(none)";
    const st = $("status");
    if (t) {
      st.className = "status tracked";
      st.textContent = t.regarding ? "Tracked under " + t.regarding : "Tracked, without a record";
    } else {
      st.className = "status untracked";
      st.textContent = "Not tracked";
    }
    $("regarding").textContent = (t ? t.regarding : d.regarding) || "—";
    $("method").textContent = t ? t.method : d.method;
    $("confidence").textContent = d.confidence ? d.confidence.toFixed(2) : "—";
    $("reason").textContent = d.reason || "";
    const cs = $("conflicts");
    clear(cs);
    for (const c of d.conflicts || []) {
      cs.appendChild(li([[c.strategy + " says " + c.regarding + ": " + c.reason, ""]]));
    }
    $("track").disabled = !!t;
    $("track").textContent = t ? "Tracked" : "Track";
    $("record").value = (t && t.regarding) || d.regarding || "";
    renderContacts();
  }

  function renderContacts() {
    const list = $("candidates");
    clear(list);
    const cands = (state.decision && state.decision.contacts) || [];
    $("contacts").hidden = cands.length === 0;
    for (const c of cands) {
      const item = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !c.created;
      box.disabled = !!c.created;
      box.value = c.address;
      box.dataset.name = c.name || "";
      const field = document.createElement("span");
      field.className = "field";
      field.textContent = c.field || "";
      const who = document.createElement("span");
      who.textContent = (c.name ? c.name + " <" + c.address + ">" : c.address) + (c.created ? " → " + c.record : "");
      label.append(box, field, who);
      item.appendChild(label);
      list.appendChild(item);
    }
    const button = $("createContacts");
    button.disabled = !state.email;
    button.title = state.email ? "" : "Track the email first";
  }

  async function loadTimeline() {
    const rec = state.email ? state.email.regarding : "";
    $("timeline").hidden = !rec;
    const list = $("emails");
    clear(list);
    if (!rec) return;
    const [type, ...rest] = rec.split(":");
    $("timelineRecord").textContent = rec;
    const page = await api("GET", "/v1/records/" + enc(type) + "/" + enc(rest.join(":")) + "/emails?limit=10");
    for (const e of page.emails) {
      const item = li([[when(e.date), "when"], [e.subject || "(no subject)", ""]]);
      if (e.message_id === state.id) item.style.fontWeight = "600";
      list.appendChild(item);
    }
  }

  async function loadHistory() {
    const list = $("history");
    clear(list);
    $("historyCard").hidden = true;
    if (!state.email) return;
    const h = await api("GET", emailPath(state.id, "/history"));
    $("historyCard").hidden = h.changes.length === 0;
    for (const c of h.changes) {
      list.appendChild(li([[when(c.time), "when"], [(c.from || "none") + " → " + (c.to || "none"), "mono"],
        [c.cause + (c.actor ? " by " + c.actor : ""), ""]]));
    }
  }

  async function act(fn) {
    if (state.busy) return;
    state.busy = true;
    try {
      const msg = await fn();
      await refresh();
      notice(msg || "");
    } catch (e) {
      notice(e.message, true);
    } finally {
      state.busy = false;
    }
  }

  $("track").addEventListener("click", () => act(async () => {
    const f = await api("POST", "/v1/emails", state.raw, "message/rfc822");
    if (!f.email) return "Not tracked: " + f.not_tracked;
    state.id = f.email.message_id;
    return f.email.regarding ? "Tracked under " + f.email.regarding : "Tracked without a record";
  }));

  $("setRegarding").addEventListener("click", () => act(async () => {
    const rec = $("record").value.trim();
    if (state.email) {
      const r = await api("PUT", emailPath(state.id, "/regarding"), { regarding: rec });
      return r.change ? "Regarding set to " + (rec || "none") : "Regarding unchanged";
    }
    const f = await api("POST", "/v1/emails?regarding=" + enc(rec), state.raw, "message/rfc822");
    state.id = f.email.message_id;
    return "Tracked under " + f.email.regarding;
  }));

  $("convertButton").addEventListener("click", () => act(async () => {
    const type = $("convertType").value;
    const r = await api("POST", emailPath(state.id, "/convert") + "?type=" + enc(type), state.raw, "message/rfc822");
    return "Converted: created " + r.record;
  }));

  $("createContacts").addEventListener("click", () => act(async () => {
    const chosen = [];
    for (const box of document.querySelectorAll("#candidates input:checked:not(:disabled)")) {
      chosen.push({ address: box.value, name: box.dataset.name });
    }
    if (chosen.length === 0) return "Choose at least one person";
    const r = await api("POST", emailPath(state.id, "/contacts"), { contacts: chosen });
    const made = new Map(r.contacts.map((c) => [c.address, c]));
    for (const c of state.decision.contacts) {
      const m = made.get(c.address);
      if (m && m.created) { c.created = true; c.record = m.record; }
    }
    return "Created " + r.contacts.filter((c) => c.created).map((c) => c.record).join(", ");
  }));

  // readFile reads a dropped or chosen file as bytes: a message in a
  // legacy charset must reach the server as it is, not re-encoded.
  function readFile(f) {
    if (!f) return;
    f.arrayBuffer().then((buf) => {
      $("raw").value = new TextDecoder("utf-8").decode(buf);
      read(buf);
    });
  }

  // Input: drop, file chooser, paste.
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    readFile(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => {
    readFile($("file").files[0]);
  });
  $("read").addEventListener("click", () => {
    const t = $("raw").value;
    if (t.trim()) read(t.replace(/\r?\n/g, "\r\n"));
  });
})();
