/* 12345 热线管理平台 — a little vanilla JS: auto-submitting filters and the agent screen's live feed.
   Text from the server's event stream is only ever inserted with textContent; the call panel is
   HTML rendered (and escaped) by the server. */
(function () {
  "use strict";

  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  });

  function agentScreen(root) {
    if (!window.EventSource) { return; }
    var list = document.getElementById("call-list");
    var panel = document.getElementById("call-panel");
    var follow = document.getElementById("follow");
    var dot = document.getElementById("live-state");
    var url = root.getAttribute("data-events");
    var since = root.getAttribute("data-since");
    var source = new EventSource(url + (url.indexOf("?") >= 0 ? "&" : "?") + "since=" + encodeURIComponent(since));

    function state(on) { if (dot) { dot.className = on ? "live-dot on" : "live-dot"; } }
    source.onopen = function () { state(true); };
    source.onerror = function () { state(false); };
    source.addEventListener("expired", function () {
      source.close(); state(false);
      window.location.href = "/console/login?next=" + encodeURIComponent("/console/agent");
    });

    function select(id) {
      var items = list.querySelectorAll("li[data-call]");
      for (var i = 0; i < items.length; i++) {
        items[i].classList.toggle("selected", items[i].getAttribute("data-call") === id);
      }
    }

    function show(id) {
      fetch("/console/agent/call/" + encodeURIComponent(id), {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) { panel.innerHTML = html; select(id); })
        .catch(function () { /* the list still shows the call; a click opens it */ });
    }

    source.addEventListener("call", function (ev) {
      var c;
      try { c = JSON.parse(ev.data); } catch (e) { return; }
      if (list.querySelector('li[data-call="' + CSS.escape(c.id) + '"]')) { return; }
      var empty = list.querySelector("li.empty");
      if (empty) { empty.remove(); }
      var li = document.createElement("li");
      li.setAttribute("data-call", c.id);
      li.className = "new";
      var a = document.createElement("a");
      a.href = "/console/agent?call=" + encodeURIComponent(c.id);
      var num = document.createElement("span");
      num.className = "mono";
      num.textContent = c.number;
      var meta = document.createElement("small");
      meta.textContent = " " + c.at + " · " + c.queue;
      a.appendChild(num); a.appendChild(meta);
      if (c.transcript) {
        var ex = document.createElement("span");
        ex.className = "excerpt";
        ex.textContent = c.transcript;
        a.appendChild(ex);
      }
      li.appendChild(a);
      list.insertBefore(li, list.firstChild);
      while (list.children.length > 50) { list.removeChild(list.lastChild); }
      if (follow && follow.checked) { show(c.id); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("agent");
    if (root) { agentScreen(root); }
  });
})();
