/* The SQL editor's quick chart: bar or line over an x column and y columns of the result,
 * drawn with the vendored uPlot. The data comes from the page's JSON route (the chart form's
 * action); the form arrives with the result (htmx), so submits are caught on the document. */
(function () {
  "use strict";

  var COLOURS = ["#1f5fbf", "#d0621b", "#2e8540", "#8a3ab9", "#b8312f", "#00838f"];
  var charts = new WeakMap(); // canvas element -> its uPlot

  function note(form, text) {
    var target = document.getElementById(form.getAttribute("data-chart-note"));
    if (target) target.textContent = text;
  }

  function axisValues(x) {
    if (x.kind !== "category") return undefined;
    return function (u, splits) {
      return splits.map(function (v) {
        return Number.isInteger(v) && v >= 0 && v < x.labels.length ? x.labels[v] : "";
      });
    };
  }

  function draw(form, canvas, data) {
    var bars = form.elements.kind.value === "bar";
    var series = [{ label: data.x.name }];
    data.series.forEach(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      var options = { label: s.name, stroke: colour, width: bars ? 1 : 2 };
      if (bars) {
        options.fill = colour + "99";
        options.paths = uPlot.paths.bars({ size: [0.6 / data.series.length, 64], align: 0 });
        options.points = { show: false };
      }
      series.push(options);
    });
    var options = {
      width: Math.max(canvas.clientWidth, 320),
      height: 320,
      scales: { x: { time: data.x.kind === "time" } },
      axes: [{ label: data.x.name, values: axisValues(data.x) }, {}],
      series: series,
    };
    if (bars) {
      options.scales.x.range = function (u, min, max) { return [min - 0.5, max + 0.5]; };
      options.scales.y = { // bars rise from zero
        range: function (u, min, max) { return uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true); },
      };
    }
    var previous = charts.get(canvas);
    if (previous) previous.destroy();
    var values = [data.x.values].concat(data.series.map(function (s) { return s.values; }));
    charts.set(canvas, new uPlot(options, values, canvas));
    var shown = data.rows < data.total_rows ? "the first " + data.rows + " of " + data.total_rows : "all " + data.rows;
    note(form, "Drawn: " + shown + " rows.");
  }

  function sortedByX(data) {
    if (data.x.kind === "category") return data;
    var order = data.x.values.map(function (v, i) { return i; })
      .filter(function (i) { return data.x.values[i] !== null; })
      .sort(function (a, b) { return data.x.values[a] - data.x.values[b]; });
    function pick(list) { return order.map(function (i) { return list[i]; }); }
    data.x.values = pick(data.x.values);
    data.series.forEach(function (s) { s.values = pick(s.values); });
    return data;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("sql-chart-form")) return;
    event.preventDefault();
    var canvas = document.getElementById(form.getAttribute("data-chart-canvas"));
    if (!canvas || typeof uPlot === "undefined") return;
    var query = new URLSearchParams();
    query.append("x", form.elements.x.value);
    form.querySelectorAll("input[name=y]:checked").forEach(function (box) {
      query.append("y", box.value);
    });
    note(form, "Loading…");
    fetch(form.action + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.message || "the chart could not be drawn");
          return body;
        });
      })
      .then(function (data) { draw(form, canvas, sortedByX(data)); })
      .catch(function (error) { note(form, error.message); });
  });
})();
