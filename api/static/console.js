/* The agent console: the ticket list, a ticket with its predictions (confidence, prediction set,
 * evidence), accept or override in one click, similar tickets, recommended replies with their citations,
 * and KB search. Everything goes through the API with the signed-in key. */
(function () {
  "use strict";
  var H = window.Helpdesk, el = H.el, api = H.api;
  var BUILT_IN = ["category", "priority", "assignee"]; // every other field the deployment declares comes after them
  var listNode = document.getElementById("ticket-list");
  var view = document.getElementById("ticket");
  var filter = document.getElementById("status-filter");
  var current = null;

  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  async function loadList() {
    var query = filter.value ? "?status=" + encodeURIComponent(filter.value) + "&limit=100" : "?limit=100";
    var page = await api("/v1/tickets" + query);
    listNode.replaceChildren();
    if (!page.items.length) listNode.append(el("li", {class: "empty"}, "No tickets."));
    page.items.forEach(function (t) {
      listNode.append(el("li", null, el("button", {
        type: "button", class: "ticket-link", "data-id": t.id,
        "aria-current": current === t.id ? "true" : null,
        onclick: function () { openTicket(t.id); },
      }, el("span", {class: "subject"}, slaBadge(t.sla), t.subject || "(no subject)"),
        el("span", {class: "meta"}, "#" + t.id + " · " + t.status + (t.category ? " · " + t.category : "") +
          (t.sla && t.sla.resolution_due && ["on_track", "at_risk", "breached"].indexOf(t.sla.state) >= 0 ? " · due " + when(t.sla.resolution_due) : "")))));
    });
  }

  /* A mark for a ticket whose SLA is at risk or breached (nothing for one on track or without a policy). */
  function slaBadge(sla) {
    if (!sla || (sla.state !== "at_risk" && sla.state !== "breached")) return null;
    var risk = sla.breach_probability != null ? " (" + Math.round(sla.breach_probability * 100) + "% likely to miss)" : "";
    return el("span", {class: "sla-badge sla-" + sla.state, title: "SLA " + sla.state.replace("_", " ") + risk},
      sla.state === "breached" ? "SLA breached" : "SLA at risk");
  }

  /* The ticket's SLA in one line: priority (set or predicted), due times, state and the estimate. */
  function slaLine(sla) {
    if (!sla) return null;
    var parts = ["SLA " + sla.state.replace("_", " "), "priority " + (sla.priority || "none") + " (" + sla.priority_source + ")"];
    if (sla.first_response_due) parts.push("first response " + (sla.first_response_at ? "sent " + when(sla.first_response_at) : "due " + when(sla.first_response_due)));
    if (sla.paused) parts.push("paused: waiting for the customer");
    else if (sla.resolution_due) parts.push("resolution due " + when(sla.resolution_due));
    if (sla.breach_probability != null) parts.push(Math.round(sla.breach_probability * 100) + "% likely to miss it");
    var e = sla.resolution_estimate_hours;
    if (e) parts.push("similar tickets took " + e.p10 + "–" + e.p90 + " business hours (median " + e.p50 + ")");
    return el("p", {class: "sla-line sla-" + sla.state}, slaBadge(sla), parts.join(" · "));
  }

  function confidenceBar(value) {
    var pct = Math.round((value || 0) * 100);
    var fill = el("span", {class: "meter-fill"});
    fill.style.width = pct + "%"; // through the CSSOM: the pages' CSP allows no inline style attributes
    return el("span", {class: "confidence", title: "confidence " + pct + "%"},
      el("span", {class: "meter"}, fill), el("span", {class: "pct"}, pct + "%"));
  }

  function predictionCard(ticket, name, p, decided) {
    var card = el("div", {class: "prediction", "data-field": name});
    var head = el("h3", null, name.replace(/_/g, " "));
    if (!p || p.status === "unavailable") {
      card.append(head, el("p", {class: "muted"}, (p && p.reason) || "no prediction"));
      return card;
    }
    var shown = p.label;
    if (p.status === "abstained") { // the most probable label is named, with its probability, but not committed
      shown = p.top ? "probably " + p.top.label + " (" + Math.round(p.top.probability * 100) + "%), not sure" : "not sure";
    }
    card.append(head, el("p", {class: "label"}, el("strong", {class: "value"}, shown), " ", confidenceBar(p.confidence)));
    if (p.reason) card.append(el("p", {class: "muted"}, p.reason));
    if (p.prediction_set && p.prediction_set.length) {
      card.append(el("p", {class: "set"}, "Prediction set (90%): ",
        p.prediction_set.map(function (l) { return el("span", {class: "chip"}, l); })));
    }
    if (p.evidence) {
      var evidence = el("details", {class: "evidence"}, el("summary", null, p.evidence.summary));
      var list = el("ul");
      p.evidence.tickets.forEach(function (t) {
        list.append(el("li", null, el("button", {type: "button", class: "link", onclick: function () { openTicket(t.id); }},
          "#" + t.id), " " + (t.label || "–") + " · similarity " + t.similarity));
      });
      evidence.append(list);
      card.append(evidence);
    }
    var options = [];
    [p.label, p.top && p.top.label].concat(p.prediction_set || [], (p.alternatives || []).map(function (a) { return a.label; }))
      .forEach(function (l) { if (l && options.indexOf(l) < 0) options.push(l); });
    var select = el("select", {"aria-label": "Override " + name},
      options.map(function (l) { return el("option", {value: l}, l); }));
    var status = el("span", {class: "decision", role: "status"});
    if (decided) status.textContent = decided.action + ": " + decided.value;
    var actions = el("div", {class: "actions"});
    if (p.label) {
      actions.append(el("button", {type: "button", class: "accept", onclick: function () {
        decide(ticket, name, p.label, status);
      }}, "Accept " + p.label));
    }
    actions.append(select, el("button", {type: "button", class: "override", onclick: function () {
      decide(ticket, name, select.value, status);
    }}, "Set"), status);
    card.append(actions);
    return card;
  }

  async function decide(ticket, name, value, status) {
    var body = {}, labels = {};
    if (BUILT_IN.indexOf(name) >= 0) body[name] = value; // the fields a deployment added go in "labels"
    else { labels[name] = value; body.labels = labels; }
    try {
      await api("/v1/tickets/" + ticket.id, {method: "PATCH", json: body});
      var feedback = await api("/v1/tickets/" + ticket.id + "/feedback");
      var mine = feedback.filter(function (f) { return f.field === name; }).pop();
      status.textContent = mine ? mine.action + ": " + mine.value : "saved";
    } catch (error) {
      status.textContent = "Not saved: " + error.message;
    }
  }

  function similarSection(similar) {
    var section = el("section", {class: "similar"}, el("h2", null, "Similar tickets"));
    if (similar.duplicates.length) {
      section.append(el("h3", null, "Possible duplicates (open)"));
      section.append(el("ul", null, similar.duplicates.map(function (t) {
        return el("li", null, el("button", {type: "button", class: "link", onclick: function () { openTicket(t.id); }},
          "#" + t.id + " " + t.subject), " · similarity " + t.similarity);
      })));
    }
    section.append(el("ul", null, similar.resolved.map(function (t) {
      return el("li", null, el("button", {type: "button", class: "link", onclick: function () { openTicket(t.id); }},
        "#" + t.id + " " + t.subject), el("span", {class: "muted"}, " · " + (t.category || "–") + " · similarity " + t.similarity),
        t.resolution ? el("p", {class: "resolution"}, t.resolution) : null);
    })));
    if (!similar.resolved.length && !similar.duplicates.length) section.append(el("p", {class: "muted"}, "None close enough."));
    return section;
  }

  function citation(source) {
    if (source.type === "article") {
      return el("a", {href: "/help/" + encodeURIComponent(source.slug) + "#" + (source.url.split("#")[1] || ""), target: "_blank"},
        source.slug + " › " + source.heading + " (rev. " + source.revision + ")");
    }
    return el("button", {type: "button", class: "link", onclick: function () { openTicket(source.id); }}, "ticket #" + source.id);
  }

  function repliesSection(ticket, assist) {
    var section = el("section", {class: "replies"}, el("h2", null, "Recommended replies"));
    if (!assist.replies.length) section.append(el("p", {class: "muted"}, "No reply is close enough."));
    assist.replies.forEach(function (reply) {
      var note = el("span", {class: "decision", role: "status"});
      function record(action) {
        api("/v1/tickets/" + ticket.id + "/assist/feedback", {json: {action: action, reply_id: reply.id,
          sources: reply.sources.map(function (s) { return s.type === "article" ? s.slug : "ticket:" + s.id; })}})
          .then(function () { note.textContent = action; }, function (e) { note.textContent = e.message; });
      }
      section.append(el("article", {class: "reply"},
        el("p", {class: "text"}, reply.text),
        el("p", {class: "muted"}, "Score " + reply.score + " · sources: ",
          reply.sources.map(function (s, i) { return [i ? ", " : "", citation(s)]; })),
        el("div", {class: "actions"},
          el("button", {type: "button", onclick: function () {
            if (navigator.clipboard) navigator.clipboard.writeText(reply.text).catch(function () {});
            record("used");
          }}, "Use"),
          el("button", {type: "button", onclick: function () { record("dismissed"); }}, "Dismiss"), note)));
    });
    return section;
  }

  async function openTicket(id) {
    current = id;
    listNode.querySelectorAll("[aria-current]").forEach(function (b) { b.removeAttribute("aria-current"); });
    var button = listNode.querySelector('[data-id="' + id + '"]');
    if (button) button.setAttribute("aria-current", "true");
    view.replaceChildren(el("p", {class: "muted"}, "Loading ticket #" + id + "…"));
    // similar tickets and replies are asked for at once but drawn when each arrives: a slow one never
    // holds back the predictions
    var similar = api("/v1/tickets/" + id + "/similar"), assist = api("/v1/tickets/" + id + "/assist");
    [similar, assist].forEach(function (p) { p.catch(function () {}); }); // drawn by pending(), or dropped
    try {
      var results = await Promise.all([api("/v1/tickets/" + id), api("/v1/tickets/" + id + "/feedback")]);
    } catch (error) {
      if (current === id) view.replaceChildren(el("p", {class: "notice"}, "Could not load ticket #" + id + ": " + error.message));
      return;
    }
    if (current !== id) return; // the agent opened another ticket meanwhile
    var ticket = results[0], feedback = results[1];
    var predictions = (ticket.suggestion && ticket.suggestion.predictions) || {};
    var grid = el("div", {class: "predictions"});
    var fields = Object.keys(ticket.labels || {});
    Object.keys(predictions).forEach(function (name) { if (fields.indexOf(name) < 0) fields.push(name); });
    (fields.length ? fields : BUILT_IN).forEach(function (name) {
      var decided = feedback.filter(function (f) { return f.field === name; }).pop();
      grid.append(predictionCard(ticket, name, predictions[name], decided));
    });
    view.replaceChildren(
      el("h2", {class: "ticket-subject"}, "#" + ticket.id + " " + (ticket.subject || "(no subject)")),
      el("p", {class: "muted"}, ticket.status + " · " + (ticket.requester || "unknown requester") + " · " + when(ticket.created_at) +
        (ticket.suggestion && ticket.suggestion.bundle_version ? " · bundle " + ticket.suggestion.bundle_version : "")),
      slaLine(ticket.sla),
      el("pre", {class: "body"}, ticket.body || ""),
      el("h2", null, "Predictions"), grid,
      pending(similar, "Similar tickets", similarSection),
      pending(assist, "Recommended replies", function (result) { return repliesSection(ticket, result); }));
  }

  /* A section that says it is loading until ``promise`` settles, then shows ``draw(result)`` or the error. */
  function pending(promise, title, draw) {
    var slot = el("section", {class: "loading", "aria-busy": "true"}, el("h2", null, title), el("p", {class: "muted"}, "Loading…"));
    promise.then(function (result) { slot.replaceWith(draw(result)); }, function (error) {
      slot.removeAttribute("aria-busy");
      slot.replaceChildren(el("h2", null, title), el("p", {class: "notice"}, "Could not load: " + error.message));
    });
    return slot;
  }

  async function searchKb(event) {
    event.preventDefault();
    var q = document.getElementById("kb-q").value.trim();
    var out = document.getElementById("kb-results");
    if (!q) { out.replaceChildren(); return; }
    var result = await api("/v1/kb/search?q=" + encodeURIComponent(q));
    out.replaceChildren();
    result.results.forEach(function (hit) {
      var snippet = el("p", {class: "snippet"});
      snippet.innerHTML = hit.snippet; // escaped by the service; only <mark> is markup
      out.append(el("li", null, el("a", {href: "/help/" + encodeURIComponent(hit.slug) + "#" + hit.anchor, target: "_blank"}, hit.title),
        el("span", {class: "muted"}, " · " + hit.heading), snippet));
    });
    if (!out.children.length) out.append(el("li", {class: "muted"}, "Nothing found."));
  }

  H.requireRole(["agent"]).then(function () {
    filter.addEventListener("change", loadList);
    document.getElementById("kb-form").addEventListener("submit", searchKb);
    loadList().then(function () {
      var wanted = parseInt(new URLSearchParams(location.search).get("ticket") || "", 10);
      if (wanted) openTicket(wanted);
    });
  });
})();
