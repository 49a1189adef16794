// The dashboard's only script: poll a small JSON document and, when it changes, swap in the
// re-rendered figures from the server. Every loop is bounded: one request at a time, backing off
// on failure, stopping when the page is hidden for long or after a sign-out.
// What changed is said once in the page's live region (#announce): a figure that changed, an alert
// raised or resolved. Never the time of a refresh, and nothing when nothing changed.
// A form's page puts focus where it matters: its error summary, or the heading of a preview or
// result (data-focus), so a screen reader says it first.
(function () {
  "use strict";
  var first = document.querySelector("[data-focus]");
  if (first) { first.focus(); }
})();
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel || !panel.dataset.poll) { return; }
  var live = document.getElementById("live");
  var announce = document.getElementById("announce");
  var MOST = 4; // figures named in one announcement; the rest are counted
  var every = Math.max(1000, parseInt(panel.dataset.every || "4000", 10));
  var last = panel.dataset.revision || null;
  var busy = false;
  var failures = 0;
  var timer = null;

  function status(text, cls) {
    if (!live) { return; }
    live.textContent = text;
    live.className = "live " + (cls || "");
  }

  function now() {
    var d = new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function revisionOf(text) {
    try {
      var doc = JSON.parse(text);
      return (doc && !Array.isArray(doc) && doc.revision) ? doc.revision : text;
    } catch (e) {
      return text;
    }
  }

  function words(el) {
    return el ? el.textContent.replace(/\s+/g, " ").trim() : "";
  }

  // A figure's name, as a reader of the page sees it: its row (a line, a project) and its column
  // (the table's header) or its headline figure's label.
  function figureName(cell) {
    var row = cell.closest("tr");
    if (row) {
      var head = row.querySelector("th");
      var table = row.closest("table");
      var column = "";
      if (table) {
        var heads = table.querySelectorAll("thead th");
        var index = Array.prototype.indexOf.call(row.children, cell.closest("td, th"));
        if (index >= 0 && heads[index]) { column = words(heads[index]); }
      }
      return (words(head) + " " + column.toLowerCase()).trim();
    }
    var kpi = cell.closest(".kpi");
    if (kpi) { return words(kpi.querySelector(".kpi-label")); }
    return cell.dataset.figure.replace(/[._]/g, " ");
  }

  function snapshot() {
    var figures = {};
    var names = {};
    var order = [];
    panel.querySelectorAll("[data-figure]").forEach(function (cell) {
      var row = cell.closest("tr");
      var key = (row ? (row.dataset.category || row.dataset.project || "") : "") + "|" + cell.dataset.figure;
      figures[key] = words(cell);
      names[key] = figureName(cell);
      order.push(key);
    });
    var alerts = {};
    panel.querySelectorAll("[data-alert]").forEach(function (item) {
      var kind = item.querySelector(".kind");
      var what = item.querySelector("strong");
      alerts[item.dataset.alert] = (words(kind) + " " + words(what)).trim();
    });
    return { figures: figures, names: names, order: order, alerts: alerts };
  }

  function changes(before, after) {
    var said = [];
    Object.keys(after.alerts).forEach(function (id) {
      if (!(id in before.alerts)) { said.push("Alert raised: " + after.alerts[id] + "."); }
    });
    Object.keys(before.alerts).forEach(function (id) {
      if (!(id in after.alerts)) { said.push("Alert resolved: " + before.alerts[id] + "."); }
    });
    var changed = after.order.filter(function (key) {
      return key in before.figures && before.figures[key] !== after.figures[key];
    });
    changed.slice(0, MOST).forEach(function (key) {
      said.push(after.names[key] + " now " + after.figures[key] + " (was " + before.figures[key] + ").");
    });
    if (changed.length > MOST) { said.push((changed.length - MOST) + " more figures changed."); }
    return said.join(" ");
  }

  function say(text) {
    if (!announce || !text) { return; }
    announce.textContent = text;
  }

  function refresh() {
    return fetch(panel.dataset.panel, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("panel " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var before = snapshot();
        panel.innerHTML = html;
        say(changes(before, snapshot()));
      });
  }

  function tick() {
    timer = null;
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(panel.dataset.poll, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/dashboard/login"); throw new Error("signed out"); }
        if (!response.ok) { throw new Error("poll " + response.status); }
        return response.text();
      })
      .then(function (text) {
        var revision = revisionOf(text);
        var changed = last !== null && revision !== last;
        last = revision;
        return changed ? refresh() : null;
      })
      .then(function () {
        failures = 0;
        status("Live · updated " + now(), "ok"); // shown, not announced: #live is no live region
      })
      .catch(function () {
        failures += 1;
        status("Reconnecting…", "stale");
      })
      .then(function () {
        busy = false;
        schedule();
      });
  }

  function schedule() {
    // Back off to at most a minute between tries while the server does not answer.
    var wait = Math.min(60000, every * Math.pow(2, Math.min(failures, 4)));
    if (timer !== null) { window.clearTimeout(timer); }
    timer = window.setTimeout(tick, wait);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !busy) {
      if (timer !== null) { window.clearTimeout(timer); }
      tick();
    }
  });
  status("Live", "ok");
  schedule();
})();
