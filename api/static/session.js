/* The pages' sign-in: an API key kept in this tab's sessionStorage and sent as a Bearer token, so the
 * pages see exactly what the key's role may see through the API. Shared helpers for the page scripts. */
(function () {
  "use strict";
  var STORE = "helpdesk.key";

  function key() { return sessionStorage.getItem(STORE); }

  function signOut() {
    sessionStorage.removeItem(STORE);
    location.href = "/signin?next=" + encodeURIComponent(location.pathname);
  }

  async function api(path, options) {
    options = options || {};
    var headers = {"authorization": "Bearer " + key()};
    if (options.json !== undefined) headers["content-type"] = "application/json";
    var response = await fetch(path, {
      method: options.method || (options.json !== undefined ? "POST" : "GET"),
      headers: headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    });
    if (response.status === 401) { signOut(); throw new Error("signed out"); }
    var body = response.status === 204 ? null : await response.json().catch(function () { return null; });
    if (!response.ok) throw new Error((body && body.detail) || response.status + " " + response.statusText);
    return body;
  }

  /* Element builder: el("a", {href: "/x", class: "y"}, "text", child) ; text is never parsed as HTML. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (pair) {
      var name = pair[0], value = pair[1];
      if (value === null || value === undefined || value === false) return;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    (function add(children) {  // children may be nested arrays
      children.forEach(function (c) {
        if (c === null || c === undefined || c === false) return;
        if (Array.isArray(c)) add(c);
        else node.append(c instanceof Node ? c : document.createTextNode(String(c)));
      });
    })(Array.prototype.slice.call(arguments, 2));
    return node;
  }

  /* Resolves with {name, role} when the key may use this page, else sends the browser to the sign-in. */
  async function requireRole(roles) {
    if (!key()) { signOut(); return new Promise(function () {}); }
    var me = await api("/v1/whoami");
    if (me.role !== "admin" && roles.indexOf(me.role) < 0) {
      sessionStorage.removeItem(STORE);
      location.href = "/signin?next=" + encodeURIComponent(location.pathname) + "&denied=" + me.role;
      return new Promise(function () {});
    }
    var who = document.getElementById("who");
    if (who) who.textContent = me.name + " (" + me.role + ")";
    var out = document.getElementById("sign-out");
    if (out) { out.hidden = false; out.addEventListener("click", signOut); }
    return me;
  }

  function percent(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }

  window.Helpdesk = {api: api, el: el, key: key, percent: percent, requireRole: requireRole, signOut: signOut, STORE: STORE};
})();
