/* Small SVG charts for the dashboard: stacked bars, horizontal bars, and x-y lines. No library. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLOURS = ["#0b57d0", "#e8710a", "#188038", "#a142f4", "#d93025", "#12b5cb", "#f9ab00", "#5f6368", "#9aa0a6"];

  function svg(tag, attrs, children) {
    var node = document.createElementNS(NS, tag);
    Object.entries(attrs || {}).forEach(function (p) { node.setAttribute(p[0], p[1]); });
    (children || []).forEach(function (c) { if (c) node.append(c); });
    return node;
  }

  function text(x, y, value, attrs) {
    var node = svg("text", Object.assign({x: x, y: y}, attrs || {}));
    node.textContent = value;
    return node;
  }

  function legend(names) {
    var box = document.createElement("ul");
    box.className = "legend";
    names.forEach(function (name, i) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLOURS[i % COLOURS.length];
      item.append(swatch, document.createTextNode(name));
      box.append(item);
    });
    return box;
  }

  /* series: [{label, values: {name: number}}], names: stack order. */
  function stackedBars(series, names, options) {
    options = options || {};
    var width = options.width || 720, height = options.height || 240, left = 36, bottom = 40, top = 10;
    var max = Math.max(1, Math.max.apply(null, series.map(function (s) {
      return names.reduce(function (sum, n) { return sum + (s.values[n] || 0); }, 0);
    })));
    var chart = svg("svg", {viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": options.label || "chart", class: "svg-chart"});
    var plotH = height - bottom - top, step = (width - left) / Math.max(series.length, 1), bar = Math.max(2, step * 0.7);
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH * (1 - f);
      chart.append(svg("line", {x1: left, x2: width, y1: y, y2: y, class: "grid"}), text(left - 4, y + 4, Math.round(max * f), {"text-anchor": "end", class: "tick"}));
    });
    series.forEach(function (s, i) {
      var x = left + i * step + (step - bar) / 2, y = top + plotH;
      names.forEach(function (n, j) {
        var h = plotH * (s.values[n] || 0) / max;
        if (!h) return;
        y -= h;
        var rect = svg("rect", {x: x, y: y, width: bar, height: h, fill: COLOURS[j % COLOURS.length], class: "bar"});
        rect.append(svg("title", {}, [document.createTextNode(s.label + " · " + n + ": " + s.values[n])]));
        chart.append(rect);
      });
      var every = Math.ceil(series.length / 10);
      if (i % every === 0) chart.append(text(x + bar / 2, height - bottom + 16, s.label, {"text-anchor": "middle", class: "tick"}));
    });
    var wrap = document.createElement("div");
    wrap.append(chart, legend(names));
    return wrap;
  }

  /* rows: [{label, value (0..1), note}] as horizontal bars. */
  function hbars(rows, options) {
    options = options || {};
    var width = options.width || 360, rowH = 26, left = options.left || 150;
    var chart = svg("svg", {viewBox: "0 0 " + width + " " + (rows.length * rowH + 4), role: "img", "aria-label": options.label || "chart", class: "svg-chart"});
    rows.forEach(function (r, i) {
      var y = i * rowH + 4, w = (width - left - 60) * Math.max(0, Math.min(1, r.value || 0));
      chart.append(text(left - 6, y + 15, r.label, {"text-anchor": "end", class: "tick"}),
        svg("rect", {x: left, y: y + 3, width: width - left - 60, height: 16, class: "track"}),
        svg("rect", {x: left, y: y + 3, width: w, height: 16, fill: r.colour || COLOURS[0], class: "bar"}),
        text(width - 54, y + 15, r.note !== undefined ? r.note : Math.round((r.value || 0) * 100) + "%", {class: "tick"}));
    });
    return chart;
  }

  /* lines: [{name, points: [[x, y], ...], dots}], both axes 0..1. */
  function xy(lines, options) {
    options = options || {};
    var size = options.size || 220, pad = 30;
    var chart = svg("svg", {viewBox: "0 0 " + (size + pad + 10) + " " + (size + pad + 10), role: "img", "aria-label": options.label || "chart", class: "svg-chart xy"});
    function px(x) { return pad + x * size; }
    function py(y) { return 10 + (1 - y) * size; }
    chart.append(svg("rect", {x: pad, y: 10, width: size, height: size, class: "track"}));
    [0, 0.5, 1].forEach(function (f) {
      chart.append(text(pad - 4, py(f) + 4, f, {"text-anchor": "end", class: "tick"}), text(px(f), size + 26, f, {"text-anchor": "middle", class: "tick"}));
    });
    if (options.diagonal) chart.append(svg("line", {x1: px(0), y1: py(0), x2: px(1), y2: py(1), class: "diagonal"}));
    lines.forEach(function (line, i) {
      var colour = COLOURS[i % COLOURS.length];
      chart.append(svg("polyline", {points: line.points.map(function (p) { return px(p[0]) + "," + py(p[1]); }).join(" "), fill: "none", stroke: colour, "stroke-width": 2, class: "line"}));
      if (line.dots) line.points.forEach(function (p) { chart.append(svg("circle", {cx: px(p[0]), cy: py(p[1]), r: 3, fill: colour})); });
    });
    if (options.xLabel) chart.append(text(pad + size / 2, size + 38, options.xLabel, {"text-anchor": "middle", class: "axis"}));
    return chart;
  }

  window.Charts = {COLOURS: COLOURS, hbars: hbars, legend: legend, stackedBars: stackedBars, xy: xy};
})();
