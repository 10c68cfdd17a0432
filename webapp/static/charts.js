// Charts for the host and compare pages: each `.chart[data-chart]` names API series to draw with uPlot.
// A chart spec: {title, unit, scale, max?, sources: [{kind: "series"|"gpus"|"compare", label, url}]}.
(function () {
  "use strict";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#4d2d00",
                "#6639ba", "#0550ae", "#953800", "#116329", "#a40e26", "#57606a", "#8c6d1f", "#3e1f79"];
  // the same hues, light enough for the dark theme's cards (app.css --card)
  var DARK_COLORS = ["#4493f8", "#ff7b72", "#3fb950", "#a371f7", "#f0883e", "#39c5cf", "#db61a2", "#d29922",
                     "#bc8cff", "#79c0ff", "#ffa657", "#56d364", "#ffa198", "#8b949e", "#e3b341", "#d2a8ff"];

  // One API answer -> [{label, points: [[ts, avg, max], ...]}]
  function tablesOf(source, body) {
    if (source.kind === "gpus") {
      return (body.cards || []).map(function (c) { return {label: "GPU " + c.index, points: c.points}; });
    }
    if (source.kind === "compare") {
      return (body.series || []).map(function (s) { return {label: s.host_id, points: s.points}; });
    }
    return [{label: source.label, points: body.points || []}];
  }

  // Axis and legend numbers: at most 3 significant digits, no float noise.
  function num(v) {
    if (v === null || v === undefined) return "–";
    var a = Math.abs(v);
    if (a >= 100 || a === 0) return v.toFixed(0);
    return String(parseFloat(v.toPrecision(3)));
  }

  function fetchJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}}).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : r.status + " " + r.statusText);
        return body;
      });
    });
  }

  function withRange(url, from, to) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + "from=" + from.toFixed(0) + "&to=" + to.toFixed(0);
  }

  function draw(el) {
    var spec = JSON.parse(el.dataset.chart);
    var to = Date.now() / 1000, from = to - parseFloat(el.dataset.rangeS || "3600");
    el.dataset.state = "loading";
    return Promise.all(spec.sources.map(function (s) {
      return fetchJSON(withRange(s.url, from, to)).then(function (body) { return tablesOf(s, body); });
    })).then(function (parts) {
      var lines = [].concat.apply([], parts);
      var count = 0;
      var tables = lines.map(function (line) {
        var xs = [], ys = [];
        line.points.forEach(function (p) {
          if (p[1] === null || p[1] === undefined) return;
          xs.push(p[0]); ys.push(p[1] * (spec.scale || 1)); count++;
        });
        return [xs, ys];
      });
      if (el._plot) { el._plot.destroy(); el._plot = null; }
      el.innerHTML = "";
      el.dataset.points = String(count);
      el.dataset.series = String(lines.length);
      if (!count) {
        el.innerHTML = '<p class="nodata">No data in this range yet.</p>';
        el.dataset.state = "empty";
        return;
      }
      var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      var unit = spec.unit || "";
      // axes and grid in the theme's colours (app.css custom properties); a theme change redraws (below)
      var fw = window.fleetwatch, ink = fw.color("--fg"), grid = {stroke: fw.color("--line"), width: 1};
      var colors = fw.theme() === "dark" ? DARK_COLORS : COLORS;
      var opts = {
        width: Math.max(200, el.clientWidth || 500), height: 220,
        scales: {x: {time: true, range: [from, to]}, y: spec.max ? {range: [0, spec.max]} : {}},
        axes: [{stroke: ink, grid: grid, ticks: grid},
               {size: 70, stroke: ink, grid: grid, ticks: grid,
                values: function (u, vals) { return vals.map(function (v) { return num(v) + " " + unit; }); }}],
        series: [{}].concat(lines.map(function (line, i) {
          return {label: line.label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false,
                  value: function (u, v) { return v === null || v === undefined ? "–" : num(v) + " " + unit; }};
        })),
        legend: {live: true}
      };
      el._plot = new uPlot(opts, data, el);
      el.dataset.state = "drawn";
    }).catch(function (err) {
      el.innerHTML = '<p class="nodata">Could not load the data: ' + String(err.message).replace(/[<>&]/g, "") + "</p>";
      el.dataset.state = "error";
    });
  }

  function drawAll(rangeS) {
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      if (rangeS) el.dataset.rangeS = String(rangeS);
      draw(el);
    });
  }

  var RANGES = {"1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000};
  document.addEventListener("DOMContentLoaded", function () {
    drawAll();
    document.querySelectorAll("[data-range]").forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        document.querySelectorAll("[data-range]").forEach(function (b) { b.classList.remove("active"); });
        a.classList.add("active");
        var url = new URL(window.location.href);
        url.searchParams.set("range", a.dataset.range);
        history.replaceState(null, "", url);
        drawAll(RANGES[a.dataset.range]);
      });
    });
    // Short ranges move: redraw them now and then (long ones change too slowly to matter).
    setInterval(function () {
      document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
        if (parseFloat(el.dataset.rangeS) <= 21600 && !document.hidden) draw(el);
      });
    }, 30000);
    // A chart follows its box's width (a phone turned, a window resized) and the theme.
    var resized = new ResizeObserver(function (entries) {
      entries.forEach(function (e) {
        var el = e.target, w = Math.max(200, Math.floor(el.clientWidth));
        if (el._plot && Math.abs(el._plot.width - w) > 1) el._plot.setSize({width: w, height: 220});
      });
    });
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) { resized.observe(el); });
    document.addEventListener("fleetwatch:theme", function () { drawAll(); });
  });
  window.fleetwatchCharts = {draw: draw, drawAll: drawAll};
})();
