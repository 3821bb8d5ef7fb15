// memberd admin console: the one script, and an optional one. Every page
// works without it; it only adds a "select every member on this page"
// checkbox to the member list, shown when the script runs.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (!all) return;
  var picks = Array.prototype.slice.call(document.querySelectorAll("input.pick"));
  all.hidden = false;
  all.addEventListener("change", function () {
    picks.forEach(function (p) { p.checked = all.checked; });
  });
  picks.forEach(function (p) {
    p.addEventListener("change", function () {
      all.checked = picks.every(function (q) { return q.checked; });
    });
  });
});
