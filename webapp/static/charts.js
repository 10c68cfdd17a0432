// Charts for the host and compare pages: each `.chart[data-chart]` names API series to draw with uPlot.
// A chart spec: {title, unit, max?, sources: [{kind: "series"|"gpus"|"compare", label, url}], marks?: {events, alerts}}.
// `unit` is the API's own unit ("bytes/s", "bytes", "MiB", "s", "%", "°C", "W", "MHz"...): the y axis picks a
// readable multiple from the range it shows, the legend one for each value (rates in decimal kB/s, MB/s as
// network and disk vendors count; sizes in binary KiB, MiB, GiB as the rest of the pages). Times are 24-hour,
// in the browser's zone and locale. `marks` name the host's events and alerts, drawn as vertical markers.
// Test hooks on the chart element: data-state, data-points, data-series, data-x-labels, data-y-unit, data-marks.
(function () {
  "use strict";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#4d2d00",
                "#6639ba", "#0550ae", "#953800", "#116329", "#a40e26", "#57606a", "#8c6d1f", "#3e1f79"];
  // the same hues, light enough for the dark theme's cards (app.css --card)
  var DARK_COLORS = ["#4493f8", "#ff7b72", "#3fb950", "#a371f7", "#f0883e", "#39c5cf", "#db61a2", "#d29922",
                     "#bc8cff", "#79c0ff", "#ffa657", "#56d364", "#ffa198", "#8b949e", "#e3b341", "#d2a8ff"];
  var HOUR = 3600;

  // ---------------------------------------------------------------- numbers and units
  // At most 3 significant digits and 3 decimals, no float noise.
  function num(v) {
    var a = Math.abs(v);
    if (a >= 100 || a === 0) return v.toFixed(0);
    return String(parseFloat(parseFloat(v.toPrecision(3)).toFixed(3)));
  }

  var LADDERS = {  // base unit -> [step, names from the base unit up]
    "bytes/s": [1000, ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"]],
    "bytes": [1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]],
    "MiB": [1024, ["MiB", "GiB", "TiB", "PiB"]]
  };
  var SILENT = {"": 1, "count": 1, "load": 1, "state": 1};  // numbers without a unit word

  // [factor, unit name] that shows `big` (a value, or the largest on an axis) as a readable number
  function unitFor(unit, big) {
    big = Math.abs(big || 0);
    var ladder = LADDERS[unit];
    if (ladder) {
      var f = 1, i = 0;
      while (i < ladder[1].length - 1 && big >= ladder[0] * f * 0.9995) { f *= ladder[0]; i++; }
      return [f, ladder[1][i]];
    }
    if (unit === "s") {
      if (big >= 2 * 86400) return [86400, "d"];
      if (big >= 2 * HOUR) return [HOUR, "h"];
      if (big >= 120) return [60, "min"];
      return [1, "s"];
    }
    return [1, SILENT[unit] ? "" : unit];
  }

  function withUnit(v, scaled) { return num(v / scaled[0]) + (scaled[1] ? " " + scaled[1] : ""); }

  function format(unit, v) {
    return v === null || v === undefined ? "–" : withUnit(v, unitFor(unit, v));
  }

  // Binary sizes tick at 1, 2, 5, 10, 20, 50... of KiB, MiB, GiB (not at 1e9 bytes = 0.93 GiB).
  var BINARY_INCRS = (function () {
    var out = [];
    for (var k = 0; k < 6; k++) [1, 2, 5, 10, 20, 50, 100, 200, 500].forEach(function (m) { out.push(m * Math.pow(1024, k)); });
    return out;
  })();

  // ---------------------------------------------------------------- times: 24-hour, the browser's locale and zone
  function dtf(opts) { return new Intl.DateTimeFormat(undefined, opts); }
  var FMT = {
    full: dtf({year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
               hourCycle: "h23"}),
    sec: dtf({hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"}),
    min: dtf({hour: "2-digit", minute: "2-digit", hourCycle: "h23"}),
    day: dtf({month: "short", day: "numeric"}),
    ymd: dtf({year: "numeric", month: "2-digit", day: "2-digit"})
  };
  function at(fmt, ts) { return FMT[fmt].format(new Date(ts * 1000)); }

  // x axis: hours and minutes, and the day under the first tick and wherever the day changes; days alone for ticks
  // a day or more apart
  function xLabels(u, splits, axisIdx, space, incr) {
    var prevDay = null;
    return splits.map(function (ts) {
      if (incr >= 86400) return at("day", ts);
      var day = at("ymd", ts), label = at(incr < 60 ? "sec" : "min", ts);
      if (day !== prevDay) label += "\n" + at("day", ts);
      prevDay = day;
      return label;
    });
  }

  // ---------------------------------------------------------------- data
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

  // What an empty chart says: the resolution the API chose tells when its first point comes.
  function collecting(resolution) {
    if (resolution === "hour") {
      var hour = Math.floor(Date.now() / 1000 / HOUR) * HOUR;
      return "Collecting: no hourly point yet. The hour from " + at("min", hour) + " is rolled up every minute, " +
        "so its point appears within two minutes of the first sample (complete at " + at("min", hour + HOUR) + ").";
    }
    return "Collecting: no points yet. The first appear within a minute of the host's first answer.";
  }

  // ---------------------------------------------------------------- legend: the latest values unless hovering
  // per series, the index of its newest point (the x column's: the newest of them all)
  function latestIdxs(data) {
    var idxs = [null];
    for (var s = 1; s < data.length; s++) {
      var i = data[s].length - 1;
      while (i >= 0 && (data[s][i] === null || data[s][i] === undefined)) i--;
      idxs.push(i < 0 ? null : i);
      if (i >= 0 && (idxs[0] === null || i > idxs[0])) idxs[0] = i;
    }
    return idxs;
  }

  function showLatest(u) {
    if (u.cursor.idx === null || u.cursor.idx === undefined) u.setLegend({idxs: latestIdxs(u.data)}, false);
  }

  // ---------------------------------------------------------------- event and alert markers
  var GOOD = {host_up: 1, service_recovered: 1, proxy_up: 1};
  function markColor(mark) {
    if (mark.kind === "alert") return COLORS[4];
    if (GOOD[mark.type]) return COLORS[2];
    if (mark.type === "host_rebooted") return COLORS[3];
    return COLORS[1];
  }

  var markCache = {};  // one fetch of a host's events and alerts per range, shared by its charts
  function fetchMarks(marks, from, to, rangeS) {
    var key = marks.events + "|" + rangeS, hit = markCache[key];
    if (hit && Date.now() - hit.at < 25000) return hit.promise;
    var events = fetchJSON(withRange(marks.events, from, to) + "&limit=1000").then(function (body) {
      return (body.rows || []).map(function (e) {
        return {kind: "event", type: e.type, ts: e.ts,
                text: (e.word || e.type.replace(/_/g, " ")) + (e.subject ? " (" + e.subject + ")" : "") + ": " + (e.message || "")};
      });
    });
    var alerts = !marks.alerts ? Promise.resolve([]) : fetchJSON(marks.alerts + "&limit=200").then(function (body) {
      var out = [];
      (body.rows || []).forEach(function (a) {
        var name = "alert " + a.rule + (a.item ? " (" + a.item + ")" : "");
        out.push({kind: "alert", type: "alert_firing", ts: a.fired_at || a.started_at, text: name + " fired: " + a.summary});
        if (a.resolved_at) out.push({kind: "alert", type: "alert_resolved", ts: a.resolved_at, text: name + " resolved"});
      });
      return out;
    });
    var promise = Promise.all([events, alerts]).then(function (parts) {
      return parts[0].concat(parts[1]).filter(function (m) { return m.ts >= from && m.ts <= to; });
    });
    promise.catch(function () { delete markCache[key]; });
    markCache[key] = {at: Date.now(), promise: promise};
    return promise;
  }

  // Markers live in uPlot's plotting area: a line that lets the cursor through, a dot on top with the tooltip.
  function addMarks(el, u, marks) {
    u._marks = marks.map(function (m) {
      var line = document.createElement("div"), dot = document.createElement("span");
      line.className = "chart-mark";
      line.dataset.type = m.type;
      line.dataset.ts = String(m.ts);
      line.title = at("full", m.ts) + " · " + m.text;
      line.style.cssText = "position:absolute;top:0;bottom:0;width:0;pointer-events:none;z-index:1;opacity:0.6;" +
        "border-left:1px dashed " + markColor(m) + ";";
      dot.title = line.title;
      dot.style.cssText = "position:absolute;top:-4px;left:-5px;width:8px;height:8px;border-radius:50%;" +
        "pointer-events:auto;cursor:help;background:" + markColor(m) + ";";
      line.appendChild(dot);
      u.over.appendChild(line);
      return line;
    });
    placeMarks(u);
    el.dataset.marks = String(marks.length);
  }

  function placeMarks(u) {
    (u._marks || []).forEach(function (line) {
      var x = u.valToPos(parseFloat(line.dataset.ts), "x");
      line.style.left = x + "px";
      line.style.display = x >= 0 && x <= u.over.clientWidth ? "" : "none";
    });
  }

  // ---------------------------------------------------------------- drawing
  function sizeOf(el) {
    var width = Math.max(200, el.clientWidth || 500);  // a 360 px phone leaves a chart about 300 px
    return {width: width, height: width < 600 ? 240 : 300};
  }

  function draw(el) {
    var spec = JSON.parse(el.dataset.chart);
    var rangeS = parseFloat(el.dataset.rangeS || "3600");
    var to = Date.now() / 1000, from = to - rangeS, unit = spec.unit || "";
    var resolution = null;
    el.dataset.state = "loading";
    var marks = spec.marks ? fetchMarks(spec.marks, from, to, rangeS).catch(function () { return null; }) : null;
    return Promise.all(spec.sources.map(function (s) {
      return fetchJSON(withRange(s.url, from, to)).then(function (body) {
        resolution = resolution || body.resolution || ((body.series || [])[0] || {}).resolution;
        return tablesOf(s, body);
      });
    })).then(function (parts) {
      var lines = [].concat.apply([], parts);
      var count = 0;
      var tables = lines.map(function (line) {
        var xs = [], ys = [];
        line.points.forEach(function (p) {
          if (p[1] === null || p[1] === undefined) return;
          xs.push(p[0]); ys.push(p[1]); count++;
        });
        return [xs, ys];
      });
      if (el._plot) { el._plot.destroy(); el._plot = null; }
      el.innerHTML = "";
      el.dataset.points = String(count);
      el.dataset.series = String(lines.length);
      if (!count) {
        var p = document.createElement("p");
        p.className = "nodata";
        p.textContent = collecting(resolution);
        el.appendChild(p);
        el.dataset.state = "empty";
        return;
      }
      var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      // axes and grid in the theme's colours (app.css custom properties); a theme change redraws (below)
      var fw = window.fleetwatch, ink = fw.color("--fg"), grid = {stroke: fw.color("--line"), width: 1};
      var colors = fw.theme() === "dark" ? DARK_COLORS : COLORS;
      var size = sizeOf(el);
      var yAxis = {
        stroke: ink, grid: grid, ticks: grid,
        size: function (u, values) {
          var longest = Math.max.apply(null, (values || [""]).map(function (v) { return String(v).length; }));
          return Math.max(50, 24 + longest * 7.5);
        },
        values: function (u, splits) {
          var big = Math.max.apply(null, splits.map(Math.abs)), scaled = unitFor(unit, big);
          el.dataset.yUnit = scaled[1];
          return splits.map(function (v) { return withUnit(v, scaled); });
        }
      };
      if (LADDERS[unit] && LADDERS[unit][0] === 1024) yAxis.incrs = BINARY_INCRS;
      var opts = {
        width: size.width, height: size.height,
        scales: {x: {time: true, range: [from, to]}, y: spec.max ? {range: [0, spec.max]} : {}},
        axes: [{size: 56, stroke: ink, grid: grid, ticks: grid, values: function (u, splits, axisIdx, space, incr) {
          var labels = xLabels(u, splits, axisIdx, space, incr);
          el.dataset.xLabels = labels.join("|").replace(/\n/g, " ");
          return labels;
        }}, yAxis],
        series: [{value: function (u, ts) { return ts === null || ts === undefined ? "–" : at("full", ts); }}]
          .concat(lines.map(function (line, i) {
            return {label: line.label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false,
                    value: function (u, v) { return format(unit, v); }};
          })),
        legend: {live: true},
        hooks: {ready: [showLatest], setCursor: [showLatest], draw: [placeMarks]}
      };
      var u = el._plot = new uPlot(opts, data, el);
      showLatest(u);
      el.dataset.state = "drawn";
      if (!marks) return;
      return marks.then(function (found) {
        if (found && el._plot === u) addMarks(el, u, found);
        else if (!found) el.dataset.marks = "error";
      });
    }).catch(function (err) {
      el.textContent = "";
      var p = document.createElement("p");
      p.className = "nodata";
      p.textContent = "Could not load the data: " + err.message;
      el.appendChild(p);
      el.dataset.state = "error";
    });
  }

  function drawAll(rangeS) {
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      if (rangeS) el.dataset.rangeS = String(rangeS);
      draw(el);
    });
  }

  // A narrower or wider window (a phone turned): the charts follow the width of their box.
  function resizeAll() {
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      var u = el._plot;
      if (!u) return;
      var size = sizeOf(el);
      if (size.width !== u.width || size.height !== u.height) u.setSize(size);
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
    var resizing = null;
    var resized = new ResizeObserver(function () {
      clearTimeout(resizing);
      resizing = setTimeout(resizeAll, 100);
    });
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) { resized.observe(el); });
    document.addEventListener("fleetwatch:theme", function () { drawAll(); });
  });
  window.fleetwatchCharts = {draw: draw, drawAll: drawAll, format: format, unitFor: unitFor};
})();
