/* The analyst dashboard: ticket volume by category, deflection, acceptance and abstention per field and
 * bundle version, the active bundle's calibration and precision-coverage curves, and the bundle list with
 * promote and roll back. Everything goes through the API with the signed-in key. */
(function () {
  "use strict";
  var H = window.Helpdesk, C = window.Charts, el = H.el, api = H.api;
  var status = document.getElementById("status");

  function fill(id, node) { document.getElementById(id).replaceChildren(node); }

  function empty(message) { return el("p", {class: "muted"}, message); }

  async function volume() {
    var data = await api("/v1/analytics/volume?bucket=week");
    if (!data.series.length) return fill("volume", empty("No tickets yet."));
    var series = data.series.map(function (s) { return {label: s.period.replace(/^\d{4}-/, ""), values: s.counts}; });
    fill("volume", C.stackedBars(series, data.categories, {label: "tickets per week by category"}));
  }

  async function deflection() {
    var data = await api("/v1/analytics/deflection?clusters=3");
    var box = el("div", null,
      el("p", {class: "big"}, H.percent(data.deflection_rate)),
      el("p", {class: "muted"}, data.deflected + " of " + data.sessions_with_articles +
        " portal sessions that showed articles ended without a ticket; " + data.nothing_fits + " showed nothing."));
    var top = data.articles.slice(0, 6).map(function (a) {
      return {label: a.slug, value: a.deflection_rate || 0, note: a.deflected + "/" + a.shown};
    });
    if (top.length) box.append(el("h3", null, "Most shown articles: deflected / shown"), C.hbars(top, {label: "deflection per article", left: 190}));
    fill("deflection", box);
  }

  async function acceptance() {
    var data = await api("/v1/analytics/predictions");
    var box = el("div");
    var fields = Object.keys(data.fields);
    box.append(el("h3", null, "Accepted by agents, per field"), C.hbars(fields.map(function (f) {
      var d = data.fields[f];
      return {label: f, value: d.acceptance_rate || 0, note: d.decisions ? H.percent(d.acceptance_rate) : "–"};
    }), {label: "acceptance per field"}));
    var versions = data.versions.map(function (v) {
      return {label: v.field + " · " + v.bundle_version.slice(0, 15), value: v.acceptance_rate || 0, note: H.percent(v.acceptance_rate)};
    });
    if (versions.length) box.append(el("h3", null, "Accepted, per bundle version"), C.hbars(versions, {label: "acceptance per version", left: 190}));
    var abstained = data.abstention.map(function (a) {
      return {label: a.field + " · " + a.bundle_version.slice(0, 15), value: a.abstention_rate || 0, colour: C.COLOURS[1], note: H.percent(a.abstention_rate)};
    });
    if (abstained.length) box.append(el("h3", null, "Abstained, per bundle version"), C.hbars(abstained, {label: "abstention per version", left: 190}));
    fill("acceptance", box);
  }

  async function sla() {
    var data = await api("/v1/sla/report?weeks=8");
    if (!data.rows.length) { fill("sla", empty("No ticket with an SLA outcome yet (save a policy: PUT /v1/sla/policy).")); return; }
    var box = el("div");
    box.append(el("h3", null, "Met their targets, per priority (last 8 weeks with outcomes)"), C.hbars(data.by_priority.map(function (p) {
      return {label: p.priority, value: p.attainment, note: H.percent(p.attainment) + " of " + p.tickets};
    })));
    var priorities = data.by_priority.map(function (p) { return p.priority; });
    var cell = {};
    data.rows.forEach(function (r) { cell[r.week + "|" + r.priority] = r; });
    box.append(el("h3", null, "Per week of creation"), el("table", {class: "bundles sla-weeks"},
      el("thead", null, el("tr", null, ["Week"].concat(priorities).map(function (h) { return el("th", {scope: "col"}, h); }))),
      el("tbody", null, data.weeks.map(function (week) {
        return el("tr", null, [el("th", {scope: "row"}, week)].concat(priorities.map(function (p) {
          var r = cell[week + "|" + p];
          return el("td", {class: r && r.attainment < 0.9 ? "sla-low" : null}, r ? H.percent(r.attainment) + " (" + r.tickets + ")" : "–");
        })));
      }))));
    fill("sla", box);
  }

  async function curves(active) {
    if (!active) return fill("curves", empty("No bundle is active."));
    var data = await api("/v1/models/" + encodeURIComponent(active.version) + "/curves");
    var box = el("div", {class: "curve-grid"});
    Object.entries(data.fields).forEach(function (pair) {
      var name = pair[0], f = pair[1];
      var calibration = f.calibration.map(function (b) { return [b.confidence, b.accuracy]; });
      var pc = f.precision_coverage.map(function (p) { return [p.coverage, p.precision]; });
      var threshold = f.abstention && f.abstention.threshold !== null && f.abstention.threshold !== undefined
        ? "abstains below confidence " + Number(f.abstention.threshold).toFixed(2) : "";
      box.append(el("figure", {class: "curve", "data-field": name},
        el("figcaption", null, el("strong", null, name), " · " + f.rows + " held-out tickets"),
        C.xy([{name: "calibration", points: calibration, dots: true}], {diagonal: true, label: name + " calibration", xLabel: "confidence → accuracy"}),
        C.xy([{name: "precision", points: pc}], {label: name + " precision against coverage", xLabel: "coverage → precision"}),
        threshold ? el("p", {class: "muted"}, threshold) : null));
    });
    if (!box.children.length) box.append(empty("This bundle has no held-out predictions."));
    fill("curves", box);
  }

  function accuracy(bundle) {
    var m = (bundle.holdout && bundle.holdout.metrics) || {};
    return Object.keys(m).map(function (f) { return f + " " + H.percent(m[f].accuracy); }).join(" · ") || "–";
  }

  async function bundles() {
    var list = await api("/v1/models");
    var rows = list.map(function (b) {
      var action = b.state === "active" ? el("span", {class: "chip"}, "active") : el("button", {
        type: "button", class: "promote", "data-version": b.version,
        onclick: function () { change("/v1/models/" + encodeURIComponent(b.version) + "/promote", "Promoted " + b.version); },
      }, "Promote");
      return el("tr", null, el("td", null, el("code", null, b.version)), el("td", null, b.state),
        el("td", null, new Date(b.created_at).toLocaleString()), el("td", null, accuracy(b)), el("td", null, action));
    });
    fill("bundles", el("table", {class: "bundles"},
      el("thead", null, el("tr", null, ["Version", "State", "Created", "Held-out accuracy", ""].map(function (h) { return el("th", {scope: "col"}, h); }))),
      el("tbody", null, rows)));
    return list.filter(function (b) { return b.state === "active"; })[0];
  }

  async function change(path, done) {
    status.textContent = "Working…";
    try {
      await api(path, {json: {}});
      status.textContent = done;
    } catch (error) {
      status.textContent = error.message;
    }
    refresh();
  }

  async function refresh() {
    var results = await Promise.allSettled([volume(), deflection(), acceptance(), sla(), bundles().then(curves)]);
    var failed = results.filter(function (r) { return r.status === "rejected"; });
    if (failed.length) status.textContent = "Some charts could not load: " + failed[0].reason.message;
    document.querySelector(".dashboard").setAttribute("data-loaded", "true");
  }

  H.requireRole(["analyst"]).then(function () {
    document.getElementById("rollback").addEventListener("click", function () {
      change("/v1/models/rollback", "Rolled back");
    });
    refresh();
  });
})();
