// Times in the browser's zone, "3 s ago" that keeps counting, and nothing else global.
(function () {
  "use strict";
  // the hub's wording (schema/units_format.py format_duration): "42 s", "3 min 20 s", "2 h 5 min", "3 d 4 h"
  function duration(s) {
    s = Math.max(0, Math.round(s));
    function two(big, bigUnit, small, smallUnit) { return big + " " + bigUnit + (small ? " " + small + " " + smallUnit : ""); }
    if (s < 60) return s + " s";
    if (s < 3600) return two(Math.floor(s / 60), "min", s % 60, "s");
    if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor(s % 3600 / 60), "min");
    return two(Math.floor(s / 86400), "d", Math.floor(s % 86400 / 3600), "h");
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(ts) {
    var d = new Date(ts * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function tick(root) {
    var now = Date.now() / 1000;
    (root || document).querySelectorAll("time[data-ago]").forEach(function (el) {
      el.textContent = duration(now - parseFloat(el.dataset.ago)) + " ago";
    });
  }
  function localize(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      el.textContent = local(parseFloat(el.dataset.local));
      el.title = el.getAttribute("datetime") || "";
    });
    tick(root);
  }
  window.fleetwatch = { duration: duration, local: local };
  document.addEventListener("DOMContentLoaded", function () {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
    document.querySelectorAll("[data-tz]").forEach(function (el) { el.textContent = tz; });
    // Dates typed into forms mean the browser's day: tell the hub the zone offset (minutes).
    document.querySelectorAll("input[data-tzo]").forEach(function (el) { el.value = new Date().getTimezoneOffset(); });
    localize(document);
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (e) { localize(e.target); });
})();
