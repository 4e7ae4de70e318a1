/*
 * helpdesk-triage portal widget: article suggestions under an existing ticket form, as the customer types.
 *
 *   <script src="https://HELPDESK/static/portal-widget.js" data-key="PORTAL_KEY" defer></script>
 *
 * Optional attributes: data-form (a CSS selector; default: the first form on the page), data-subject and
 * data-body (the fields' selectors; default: [name=subject] and [name=body], [name=description] or the
 * first textarea), data-api (the service's address; default: where this script came from), data-min-chars
 * (default 12), data-debounce (milliseconds, default 400), data-top-k (default 3), data-lang (the customer's
 * language, e.g. "de").
 *
 * The widget speaks the customer's language, the first of these the service has texts for: data-lang, the
 * page's <html lang>, the language the draft is written in (detected by the service), the browser's languages
 * (Accept-Language), English. Its texts come from GET /v1/portal/translations (the shipped translations with
 * the deployment's own over them); article links open the help page in the same language.
 *
 * The suggestions live in a shadow root, so the portal's CSS and ours leave each other alone. "This solved
 * it" and "Not helpful" are recorded as deflection events; submitting the form records "ticket_filed".
 * When nothing fits, nothing is shown.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var api = (data.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var key = data.key || "";
  var minChars = parseInt(data.minChars || "12", 10);
  var debounceMs = parseInt(data.debounce || "400", 10);
  var topK = parseInt(data.topK || "3", 10);
  var fixed = [data.lang, document.documentElement.lang].filter(Boolean); // the page's own say first
  var catalogues = {}; // the ?lang= asked -> a promise of {language, available, texts}

  var STYLE = [
    ":host{all:initial;display:block;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430}",
    ".panel{margin:12px 0;padding:12px 14px;border:1px solid #c9d3e0;border-radius:8px;background:#f7f9fc}",
    ".panel[hidden]{display:none}",
    "h2{font-size:15px;margin:0 0 8px;font-weight:600}",
    "ol{list-style:none;margin:0;padding:0}",
    "li{padding:8px 0;border-top:1px solid #e3e8ef}",
    "li:first-child{border-top:0}",
    "a{color:#0b57d0;font-weight:600;text-decoration:none}",
    "a:hover,a:focus{text-decoration:underline}",
    ".section{color:#5b6472;font-size:13px}",
    ".snippet{margin:4px 0 6px}",
    "mark{background:#fff3b0;color:inherit}",
    "button{font:inherit;font-size:13px;margin-right:6px;padding:3px 10px;border:1px solid #9aa8ba;border-radius:5px;background:#fff;color:#1d2430;cursor:pointer}",
    "button:focus-visible,a:focus-visible{outline:2px solid #0b57d0;outline-offset:2px}",
    ".thanks{margin:6px 0 0;font-weight:600;color:#146c2e}",
  ].join("\n");

  function field(form, selector, fallbacks) {
    if (selector) return document.querySelector(selector);
    for (var i = 0; i < fallbacks.length; i++) {
      var found = form.querySelector(fallbacks[i]);
      if (found) return found;
    }
    return null;
  }

  function post(path, body, extra) {
    return fetch(api + path, Object.assign({
      method: "POST",
      headers: {"content-type": "application/json", "authorization": "Bearer " + key},
      body: JSON.stringify(body),
    }, extra || {}));
  }

  function translations(langs) {
    var asked = langs.join(",");
    if (!catalogues[asked]) {
      catalogues[asked] = fetch(api + "/v1/portal/translations?lang=" + encodeURIComponent(asked), {
        headers: {"authorization": "Bearer " + key},
      }).then(function (response) {
        if (!response.ok) throw new Error("translations answered " + response.status);
        return response.json();
      });
      catalogues[asked].catch(function () { delete catalogues[asked]; }); // asked again with the next answer
    }
    return catalogues[asked];
  }

  function sameLanguage(tag, language) {
    tag = tag.toLowerCase().replace(/_/g, "-");
    return tag === language || tag.split("-")[0] === language;
  }

  // The texts for an answer: in the page's language when the service has it, else in the draft's.
  function textsFor(answer) {
    return translations(fixed).then(function (catalogue) {
      var draft = answer.language;
      var pageSaid = fixed.some(function (tag) { return sameLanguage(tag, catalogue.language); });
      if (pageSaid || !draft || draft === catalogue.language || catalogue.available.indexOf(draft) < 0) {
        return catalogue;
      }
      return translations([draft]);
    });
  }

  function start() {
    var form = data.form ? document.querySelector(data.form) : document.querySelector("form");
    if (!form) return;
    var subject = field(form, data.subject, ["[name=subject]", "input[type=text]"]);
    var body = field(form, data.body, ["[name=body]", "[name=description]", "textarea"]);
    if (!subject && !body) return;

    var host = document.createElement("div");
    host.className = "helpdesk-suggestions";
    (body || subject).insertAdjacentElement("afterend", host);
    var root = host.attachShadow({mode: "open"});
    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      var sheet = new CSSStyleSheet(); // a constructed sheet: allowed by a portal CSP without 'unsafe-inline'
      sheet.replaceSync(STYLE);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = document.createElement("style");
      style.textContent = STYLE;
      root.append(style);
    }
    var panel = document.createElement("section");
    panel.className = "panel";
    panel.hidden = true;
    panel.setAttribute("aria-live", "polite");
    root.append(panel);
    translations(fixed).catch(function () {}); // fetched while the customer types; retried with an answer

    var timer = null, inFlight = null, shownId = null, lastText = "", solved = false;

    function event(type, slug) {
      if (!shownId) return;
      var payload = {suggestion_id: shownId, type: type};
      if (slug) payload.article = slug;
      post("/v1/portal/events", payload, {keepalive: true}).catch(function () {});
    }

    function render(answer, catalogue) {
      var texts = catalogue.texts;
      function say(name, values) {
        return texts[name].replace(/\{(\w+)\}/g, function (whole, field) {
          return values && Object.prototype.hasOwnProperty.call(values, field) ? values[field] : whole;
        });
      }
      panel.replaceChildren();
      panel.lang = catalogue.language;
      panel.setAttribute("aria-label", say("widget.region"));
      var heading = document.createElement("h2");
      heading.textContent = say("widget.heading");
      var list = document.createElement("ol");
      answer.articles.forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = api + "/help/" + encodeURIComponent(hit.slug) + "?lang=" + encodeURIComponent(catalogue.language) +
          "#" + encodeURIComponent(hit.anchor);
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = hit.title;
        link.addEventListener("click", function () { event("opened", hit.slug); });
        var section = document.createElement("div");
        section.className = "section";
        section.textContent = hit.heading_path.length ? hit.heading_path.join(" › ") : hit.heading;
        var snippet = document.createElement("p");
        snippet.className = "snippet";
        snippet.innerHTML = hit.snippet; // escaped by the service; only <mark> is markup
        var yes = document.createElement("button");
        yes.type = "button";
        yes.textContent = say("widget.helpful");
        yes.setAttribute("aria-label", say("widget.helpful_label", {title: hit.title}));
        var no = document.createElement("button");
        no.type = "button";
        no.textContent = say("widget.not_helpful");
        no.setAttribute("aria-label", say("widget.not_helpful_label", {title: hit.title}));
        yes.addEventListener("click", function () {
          event("helpful", hit.slug);
          solved = true;
          var thanks = document.createElement("p");
          thanks.className = "thanks";
          thanks.setAttribute("role", "status");
          thanks.textContent = say("widget.thanks");
          item.append(thanks);
          yes.disabled = no.disabled = true;
        });
        no.addEventListener("click", function () {
          event("not_helpful", hit.slug);
          var next = item.nextElementSibling || item.previousElementSibling;
          item.remove();
          if (!list.children.length) panel.hidden = true;
          else if (next) next.querySelector("a").focus();
        });
        item.append(link, section, snippet, yes, no);
        list.append(item);
      });
      panel.append(heading, list);
      panel.hidden = false;
    }

    function show(answer, controller) {
      shownId = answer.suggestion_id;
      if (answer.nothing_fits || !answer.articles.length) {
        panel.replaceChildren();
        panel.hidden = true;
        return null;
      }
      return textsFor(answer).then(function (catalogue) {
        if (controller === inFlight) render(answer, catalogue);
      });
    }

    function ask() {
      var text = ((subject && subject.value) || "") + " " + ((body && body.value) || "");
      if (text.trim().length < minChars) {
        panel.hidden = true;
        return;
      }
      if (text === lastText) return;
      lastText = text;
      if (inFlight) inFlight.abort();
      var controller = inFlight = new AbortController();
      post("/v1/portal/suggest", {
        subject: subject ? subject.value.slice(0, 500) || null : null,
        body: body ? body.value.slice(0, 20000) || null : null,
        top_k: topK,
      }, {signal: controller.signal})
        .then(function (response) {
          if (!response.ok) throw new Error("suggest answered " + response.status);
          return response.json();
        })
        .then(function (answer) { return controller === inFlight ? show(answer, controller) : null; })
        .catch(function (error) {
          if (error.name !== "AbortError") { panel.hidden = true; console.warn("helpdesk widget:", error); }
        });
    }

    function typed() {
      clearTimeout(timer);
      timer = setTimeout(ask, debounceMs);
    }
    [subject, body].forEach(function (el) { if (el) el.addEventListener("input", typed); });
    form.addEventListener("submit", function () { if (!solved) event("ticket_filed"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
