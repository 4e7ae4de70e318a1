(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var next = params.get("next");
  if (!next || !/^\/(console|dashboard)$/.test(next)) next = "/console";
  var message = document.getElementById("message");
  if (params.get("denied")) {
    message.textContent = "A " + params.get("denied") + " key may not open " + next + ". Sign in with another key.";
  }
  document.getElementById("signin-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    var key = document.getElementById("key").value.trim();
    var response = await fetch("/v1/whoami", {headers: {"authorization": "Bearer " + key}});
    if (!response.ok) {
      message.textContent = response.status === 401 ? "That key is unknown or revoked." : "Sign-in failed (" + response.status + ").";
      return;
    }
    var me = await response.json();
    var allowed = {"/console": ["agent", "admin"], "/dashboard": ["analyst", "admin"]}[next];
    if (allowed.indexOf(me.role) < 0) {
      var other = me.role === "analyst" ? "/dashboard" : me.role === "agent" ? "/console" : null;
      if (!other) { message.textContent = "A " + me.role + " key may not open the console or the dashboard."; return; }
      next = other;
    }
    sessionStorage.setItem(window.Helpdesk.STORE, key);
    location.href = next;
  });
})();
