// posagent status page: live updates from GET /v1/events (the session
// cookie authenticates it) and the page's few actions, each sent with the
// CSRF token. Data is only ever set as text, never as HTML.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const live = document.getElementById("live");

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    return td;
  }
  function time(s) {
    const d = new Date(s);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }
  function terminal(st) {
    return ["paid", "failed", "cancelled", "needs_attention"].includes(st);
  }

  function showCheckout(c) {
    const rows = document.getElementById("checkouts");
    let tr = rows.querySelector('tr[data-id="' + CSS.escape(c.id) + '"]');
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = c.id;
      rows.prepend(tr);
      while (rows.children.length > 20) rows.lastElementChild.remove();
    }
    tr.className = c.state;
    tr.replaceChildren(cell(time(c.updated_at)), cell(c.order_id), cell(c.amount), cell(c.paid_amount), cell(c.state, "state"));

    const active = document.getElementById("active");
    let div = active.querySelector('div[data-id="' + CSS.escape(c.id) + '"]');
    if (terminal(c.state)) {
      if (div) div.remove();
    } else {
      if (!div) {
        div = document.createElement("div");
        div.className = "active";
        div.dataset.id = c.id;
        active.prepend(div);
      }
      const st = document.createElement("strong");
      st.className = "state";
      st.textContent = c.state;
      const rest = document.createElement("span");
      rest.textContent = " " + c.amount + " order " + c.order_id + (c.error ? " — " + c.error.message : "");
      div.replaceChildren(st, rest);
    }
    const idle = active.querySelector(".idle");
    if (idle) idle.hidden = active.querySelector("div.active") !== null;
  }

  function showRefund(rf) {
    const rows = document.getElementById("refund-rows");
    const none = rows.querySelector("tr.none");
    if (none) none.remove();
    let tr = rows.querySelector('tr[data-id="' + CSS.escape(rf.id) + '"]');
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = rf.id;
      rows.prepend(tr);
      while (rows.children.length > 10) rows.lastElementChild.remove();
    }
    tr.className = rf.state;
    tr.replaceChildren(cell(time(rf.updated_at)), cell(rf.order_id), cell(rf.amount), cell(rf.state + (rf.error ? " — " + rf.error.message : ""), "state"));
  }

  // Today's takings: re-read after a payment or refund settles.
  async function refreshTakings() {
    const day = document.getElementById("takings-date");
    if (!day) return;
    try {
      const res = await fetch("/v1/reports/daily", { credentials: "same-origin" });
      if (!res.ok) return;
      const r = await res.json();
      day.textContent = r.date;
      document.getElementById("takings-paid").textContent = r.paid.amount;
      document.getElementById("takings-count").textContent = r.paid.count;
      document.getElementById("takings-discounts").textContent = r.discounts;
      document.getElementById("takings-refunds").textContent = r.refunds.amount;
      document.getElementById("takings-net").firstElementChild.textContent = r.net;
    } catch (e) { /* offline */ }
  }

  function showJob(j) {
    const rows = document.getElementById("job-rows");
    let tr = rows.querySelector('tr[data-id="' + j.id + '"]');
    const waiting = j.state === "dead" || j.state === "failed";
    if (!waiting) {
      if (tr) tr.querySelector(".state").textContent = j.state;
      return;
    }
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = j.id;
      rows.prepend(tr);
    }
    const b = document.createElement("button");
    b.className = "retry";
    b.dataset.id = j.id;
    b.textContent = "Retry";
    const td = document.createElement("td");
    td.append(b);
    tr.replaceChildren(cell(j.id), cell(j.kind), cell(j.state, "state"), cell(j.last_error), td);
  }

  async function post(path, body) {
    const headers = { "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method: "POST", headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    let reply = {};
    try { reply = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error(reply.error ? reply.error.code + ": " + reply.error.message : res.status + " " + res.statusText);
    return reply;
  }

  function resolveButton(id, action, label) {
    const b = document.createElement("button");
    b.className = "resolve";
    b.dataset.id = id;
    b.dataset.action = action;
    b.textContent = label;
    return b;
  }

  // needs_attention rows follow the checkouts live.
  function showAttention(c) {
    const rows = document.getElementById("attention-rows");
    let tr = rows.querySelector('tr[data-id="' + CSS.escape(c.id) + '"]');
    if (c.state !== "needs_attention") {
      if (tr) tr.remove();
      return;
    }
    const none = rows.querySelector("tr.none");
    if (none) none.remove();
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = c.id;
      rows.prepend(tr);
    }
    const td = document.createElement("td");
    td.className = "actions";
    td.append(resolveButton(c.id, "accept", "Paid: keep the sale"), " ",
      resolveButton(c.id, "refund", "Paid: refund it"), " ",
      resolveButton(c.id, "closed", "Not paid: close"));
    tr.replaceChildren(cell(c.order_id), cell(c.amount), cell(c.error ? c.error.message : ""), td);
  }

  document.addEventListener("click", async (ev) => {
    const r = ev.target.closest("button.resolve");
    if (r) {
      const out = document.getElementById("resolve-result");
      r.disabled = true;
      try {
        const c = await post("/v1/checkouts/" + encodeURIComponent(r.dataset.id) + "/resolve", { action: r.dataset.action });
        out.textContent = "Order " + c.order_id + " is " + c.state + ".";
        showAttention(c);
        showCheckout(c);
      } catch (e) {
        out.textContent = "Not settled: " + e.message;
      } finally {
        r.disabled = false;
      }
      return;
    }
    const b = ev.target.closest("button.retry");
    if (!b) return;
    const out = document.getElementById("action-result");
    b.disabled = true;
    try {
      const j = await post("/v1/jobs/" + encodeURIComponent(b.dataset.id) + "/retry");
      out.textContent = "Job " + j.id + " is " + j.state + ".";
      showJob(j);
    } catch (e) {
      out.textContent = "Retry failed: " + e.message;
    } finally {
      b.disabled = false;
    }
  });

  // Health and queue depth: refreshed after each job change and every 15 s.
  async function refreshStatus() {
    try {
      const res = await fetch("/v1/status", { credentials: "same-origin" });
      if (!res.ok) return;
      const st = await res.json();
      const gw = document.getElementById("gateway");
      gw.textContent = st.gateway.reachable ? "reachable" : "unreachable";
      gw.className = st.gateway.reachable ? "ok" : "bad";
      const sc = document.getElementById("scanner");
      sc.firstChild.textContent = st.scanner.state + " ";
      sc.className = st.scanner.state === "reconnecting" ? "bad" : "ok";
      if (st.queue) {
        document.getElementById("queue").textContent = st.queue.pending + " pending, " + st.queue.dead + " dead, " + st.queue.failed + " failed" + (st.queue.overdue ? ", " + st.queue.overdue + " overdue" : "");
      }
    } catch (e) { /* offline: the live badge says so */ }
  }
  setInterval(refreshStatus, 15000);

  function connect() {
    const es = new EventSource("/v1/events");
    es.onopen = () => { live.textContent = "live"; live.className = "badge live"; };
    es.onerror = () => { live.textContent = "reconnecting…"; live.className = "badge"; };
    es.addEventListener("checkout", (e) => {
      const c = JSON.parse(e.data);
      showCheckout(c);
      showAttention(c);
      if (terminal(c.state)) refreshTakings();
    });
    es.addEventListener("refund", (e) => {
      const rf = JSON.parse(e.data);
      showRefund(rf);
      if (rf.state !== "pending") refreshTakings();
    });
    es.addEventListener("job", (e) => { showJob(JSON.parse(e.data)); refreshStatus(); });
    es.addEventListener("reset", () => location.reload());
  }
  connect();
})();
