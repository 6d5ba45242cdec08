// The portal's cards (issue 19): answer deadlines count down every second, and the cards are
// fetched again every 15 s and replaced in place (no full reload). A refresh waits while a form
// in the cards has the focus, so a worker choosing from a list is not interrupted.
(function () {
  "use strict";
  var REFRESH_MS = 15000;
  var loadedAt = Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var gone = Math.floor((Date.now() - loadedAt) / 1000);
    document.querySelectorAll("#portal-cards .countdown").forEach(function (el) {
      var left = Math.max(0, parseInt(el.dataset.seconds, 10) - gone);
      el.textContent = Math.floor(left / 60) + "分" + pad(left % 60) + "秒";
      if (left === 0) {
        var card = el.closest(".job-card");
        if (card && !card.classList.contains("expired")) {
          card.classList.add("expired");
          card.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          el.textContent = "已过期";
        }
      }
    });
  }

  function busy(container) {
    var active = document.activeElement;
    return active && container.contains(active) && /^(SELECT|INPUT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    var container = document.getElementById("portal-cards");
    if (!container || busy(container)) { return; }
    fetch(container.dataset.refresh, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        var current = document.getElementById("portal-cards");
        if (!current || busy(current)) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#portal-cards");
        if (fresh) {
          current.replaceWith(fresh);
          loadedAt = Date.now();
          tick();
        }
      })
      .catch(function () { /* keep the cards shown; the next poll tries again */ });
  }

  tick();
  setInterval(tick, 1000);
  setInterval(refresh, REFRESH_MS);
}());
