// The dashboard's only script: poll a small JSON document and, when it changes, swap in the
// re-rendered figures from the server. Every loop is bounded: one request at a time, backing off
// on failure, stopping when the page is hidden for long or after a sign-out.
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel || !panel.dataset.poll) { return; }
  var live = document.getElementById("live");
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

  function refresh() {
    return fetch(panel.dataset.panel, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("panel " + response.status); }
        return response.text();
      })
      .then(function (html) { panel.innerHTML = html; });
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
        status("Live · updated " + now(), "ok");
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
