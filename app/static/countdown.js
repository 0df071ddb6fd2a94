/* Deadline countdowns: refresh the text of <time class="countdown" data-due="..."> every
   30 seconds. The server renders the first text and the unit templates of the page
   language (data-unit-d, data-unit-h, data-unit-min, data-left, data-overdue with {n} and
   {t} placeholders); no inline script (CSP script-src 'self'). */
(function () {
  "use strict";

  function fill(template, key, value) {
    return (template || "").split("{" + key + "}").join(String(value));
  }

  function duration(el, seconds) {
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var d = el.dataset.unitD, h = el.dataset.unitH, m = el.dataset.unitMin;
    var parts = [];
    if (days) {
      parts.push(fill(d, "n", days));
      if (hours) parts.push(fill(h, "n", hours));
    } else if (hours) {
      parts.push(fill(h, "n", hours));
      if (minutes) parts.push(fill(m, "n", minutes));
    } else {
      parts.push(fill(m, "n", minutes));
    }
    return parts.join(" ");
  }

  function refresh() {
    var now = Date.now();
    var nodes = document.querySelectorAll("time.countdown[data-due]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) continue;
      var seconds = Math.floor((due - now) / 1000);
      var overdue = seconds < 0;
      var text = duration(el, Math.abs(seconds));
      el.textContent = fill(overdue ? el.dataset.overdue : el.dataset.left, "t", text);
      el.classList.toggle("overdue", overdue);
      var item = el.closest(".deadline");
      if (item) item.classList.toggle("is-overdue", overdue);
    }
  }

  function start() {
    refresh();
    window.setInterval(refresh, 30000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
