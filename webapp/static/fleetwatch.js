// Times in the browser's zone, "3 s ago" that keeps counting, the theme switch, the top bar's menu, and the
// live streams' fallback to polling.
(function () {
  "use strict";
  // the hub's wording (schema/units_format.py format_duration): "42 s", "3 min 20 s", "2 h 5 min", "3 d 4 h",
  // in the page's language (<html lang>, webapp/i18n.py HTML_LANGS): Chinese "3 分 20 秒", "2 小时 5 分前"
  var zh = /^zh\b/i.test(document.documentElement.lang || "");
  var UNITS = zh ? ["秒", "分", "小时", "天"] : ["s", "min", "h", "d"];
  function duration(s) {
    s = Math.max(0, Math.round(s));
    function two(big, bigUnit, small, smallUnit) { return big + " " + bigUnit + (small ? " " + small + " " + smallUnit : ""); }
    if (s < 60) return s + " " + UNITS[0];
    if (s < 3600) return two(Math.floor(s / 60), UNITS[1], s % 60, UNITS[0]);
    if (s < 86400) return two(Math.floor(s / 3600), UNITS[2], Math.floor(s % 3600 / 60), UNITS[1]);
    return two(Math.floor(s / 86400), UNITS[3], Math.floor(s % 86400 / 3600), UNITS[2]);
  }
  function ago(s) { return zh ? duration(s) + "前" : duration(s) + " ago"; }  // the catalogue's "%(duration)s ago"
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(ts) {
    var d = new Date(ts * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function tick(root) {
    var now = Date.now() / 1000;
    (root || document).querySelectorAll("time[data-ago]").forEach(function (el) {
      el.textContent = ago(now - parseFloat(el.dataset.ago));
    });
  }
  // The overview's table says "last seen" in 1,000 cells (`time[data-seen]`): not a clock ticking every second
  // but every SEEN_S, as when the table came again every 5 s; a cell is written only when its words change
  // (1,000 cells in Chromium: 30-55 ms with the layout, where a whole table took ~500 ms to swap).
  var SEEN_S = 5;
  function seenCell(el, now) {
    var text = ago(now - parseFloat(el.dataset.seen));
    if (el.textContent !== text) el.textContent = text;
  }
  function tickSeen() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-seen]").forEach(function (el) { seenCell(el, now); });
  }
  function localize(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      el.textContent = local(parseFloat(el.dataset.local));
      el.title = el.getAttribute("datetime") || "";
    });
    tick(root);
  }
  // The theme: "system" follows prefers-color-scheme (app.css), "light" or "dark" hold; base.html's inline
  // script sets <html data-theme> from the same key before the stylesheet applies.
  var THEME_KEY = "fleetwatch-theme", darkSystem = window.matchMedia("(prefers-color-scheme: dark)");
  function setTheme(choice) {
    choice = choice === "light" || choice === "dark" ? choice : "system";
    document.documentElement.dataset.theme = choice;
    try {
      if (choice === "system") localStorage.removeItem(THEME_KEY); else localStorage.setItem(THEME_KEY, choice);
    } catch (e) { /* storage refused: the choice holds for this page only */ }
    var sw = document.getElementById("theme-switch");
    if (sw) sw.value = choice;
    document.dispatchEvent(new CustomEvent("fleetwatch:theme", {detail: {theme: theme()}}));
  }
  function theme() {  // the theme in force: "light" or "dark"
    var t = document.documentElement.dataset.theme;
    return t === "light" || t === "dark" ? t : (darkSystem.matches ? "dark" : "light");
  }
  function color(name) {  // a colour custom property as the canvas needs it ("rgb(…)"), in the theme in force
    var probe = document.createElement("i");
    probe.style.color = "var(" + name + ")";
    probe.hidden = true;
    document.body.appendChild(probe);
    var c = getComputedStyle(probe).color;
    probe.remove();
    return c;
  }
  darkSystem.addEventListener("change", function () {
    if (document.documentElement.dataset.theme === "system") setTheme("system");
  });
  window.addEventListener("storage", function (e) { if (e.key === THEME_KEY) setTheme(e.newValue); });
  // Wide windows show the menu's content in the bar; where ::details-content cannot show a closed <details>,
  // keep it open there (the narrow layout's "Menu" then starts open after a resize, which does no harm).
  var wide = window.matchMedia("(min-width: 48rem)");
  function menuFollows() {
    if (window.CSS && CSS.supports && CSS.supports("selector(::details-content)")) return;
    document.querySelectorAll("details.menu").forEach(function (d) { d.open = wide.matches; });
  }
  wide.addEventListener("change", menuFollows);
  // Live pages (webapp/pages/stream.py): a page polls (its hx-trigger asks `fleetwatch.polling()`) only while
  // its stream is not open; after MAX_STREAM_FAILURES errors in a row with no open stream between them, or
  // with no EventSource at all, it gives the stream up and polls for good.
  var MAX_STREAM_FAILURES = 3;
  var live = { open: false, failures: 0, off: !window.EventSource };
  function giveUp(source) {
    live.off = true;
    live.open = false;
    if (source) source.close();
    document.querySelectorAll("[sse-connect]").forEach(function (el) { el.removeAttribute("sse-connect"); });
  }
  document.addEventListener("htmx:beforeProcessNode", function (e) {
    if (live.off && e.target.hasAttribute && e.target.hasAttribute("sse-connect")) e.target.removeAttribute("sse-connect");
  });
  document.addEventListener("htmx:sseOpen", function () { live.open = true; live.failures = 0; });
  document.addEventListener("htmx:sseClose", function () { live.open = false; });
  document.addEventListener("htmx:sseError", function (e) {
    live.open = false;
    live.failures += 1;
    if (live.failures >= MAX_STREAM_FAILURES) giveUp(e.detail && e.detail.source);
  });
  // `seen` events: the cards (or the table's rows) whose only change is their last-seen time
  // ({host: epoch seconds})
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    if (!e.detail || e.detail.type !== "seen") return;
    e.preventDefault();
    var seen = JSON.parse(e.detail.data), now = Date.now() / 1000;
    Object.keys(seen).forEach(function (host) {
      var at = String(Math.round(seen[host]));
      var card = document.getElementById("card-" + host);
      var time = card && card.querySelector("time[data-ago]");
      if (time) time.dataset.ago = at;
      var row = document.getElementById("row-" + host);
      time = row && row.querySelector("time[data-seen]");
      if (time) { time.dataset.seen = at; seenCell(time, now); }
    });
    tick();
  });
  // A sort or a filter on its way wins over a whole `#fleet` section that the stream sends meanwhile (a new order
  // of the table sorted by CPU comes every tick): htmx would swap the answer into the section it asked from,
  // by then out of the page, and the click would be lost. The stream's section is kept aside, and swapped only
  // if no answer came (an error: the stream has moved on and would not send it again).
  var asked = new Set(), aside = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var xhr = e.detail && e.detail.xhr, target = e.detail && e.detail.target;
    if (!xhr || !target || target.id !== "fleet") return;
    asked.add(xhr);
    xhr.addEventListener("loadend", function () {  // after htmx's own load handler: the answer is in
      asked.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) aside = null;
      else if (aside && !asked.size) {
        var html = aside;
        aside = null;
        var section = document.getElementById("fleet");
        if (section) htmx.swap(section, html, {swapStyle: "outerHTML", swapDelay: 0, settleDelay: 20});
      }
    });
  });
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var fragment = e.detail && e.detail.fragment;
    if (!asked.size || !e.detail.target || e.detail.target.id !== "fleet" || !fragment) return;
    e.preventDefault();
    aside = fragment.firstElementChild ? fragment.firstElementChild.outerHTML : null;
  });
  window.fleetwatch = { duration: duration, local: local, theme: theme, setTheme: setTheme, color: color, live: live,
                        polling: function () { return live.off || !live.open; } };
  document.addEventListener("DOMContentLoaded", function () {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
    document.querySelectorAll("[data-tz]").forEach(function (el) { el.textContent = tz; });
    // Dates typed into forms mean the browser's day: tell the hub the zone offset (minutes).
    document.querySelectorAll("input[data-tzo]").forEach(function (el) { el.value = new Date().getTimezoneOffset(); });
    localize(document);
    setInterval(tick, 1000);
    setInterval(tickSeen, SEEN_S * 1000);
    var sw = document.getElementById("theme-switch");
    if (sw) {
      sw.value = document.documentElement.dataset.theme || "system";
      sw.addEventListener("change", function () { setTheme(sw.value); });
    }
    menuFollows();
  });
  document.addEventListener("htmx:afterSettle", function (e) { localize(e.target); });
})();
