// The console's only script, an enhancement: every page works without it. It checks the
// rules editor's text as you type (the server's own diagnostics, at their line and column)
// and asks before buttons marked data-confirm submit.
"use strict";
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-confirm]");
  if (b && !window.confirm(b.getAttribute("data-confirm"))) { e.preventDefault(); }
});
(function () {
  var area = document.querySelector("textarea[data-check]");
  var out = document.getElementById("diagnostics");
  if (!area || !out) { return; }
  var form = area.form, timer = null, seq = 0;
  function esc(s) { var d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
  function check() {
    var mine = ++seq, body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    body.set("source", area.value);
    fetch(area.getAttribute("data-check"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (list) {
        if (!list || mine !== seq) { return; }
        var ko = document.documentElement.lang === "ko";
        if (list.length === 0) { out.innerHTML = "<p class=\"ok\">" + (ko ? "문제가 없습니다." : "No problems.") + "</p>"; return; }
        out.innerHTML = "<ul class=\"diagnostics\">" + list.map(function (d) {
          var caret = new Array(d.column).join(" ") + "^";
          return "<li class=\"diagnostic\" data-line=\"" + d.line + "\" data-column=\"" + d.column + "\"><strong>" +
            (ko ? "줄 " : "line ") + d.line + ", " + (ko ? "열 " : "column ") + d.column + "</strong> <code>" + esc(d.code) +
            "</code> " + esc(d.message) + (d.suggestion ? " — " + esc(d.suggestion) : "") +
            "<pre>" + esc(d.text) + "\n" + esc(caret) + "</pre></li>";
        }).join("") + "</ul>";
      })
      .catch(function () {});
  }
  area.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 300); });
})();
