// Screen-pop: poll for transferred calls; show the newest one's card as soon as it appears.
// The URLs come from the page: #transfers data-poll and #queue-box data-poll.
(function () {
  var shown = null, dismissed = {};
  var list = document.getElementById("transfers"), pop = document.getElementById("pop");
  function text(s) { var d = document.createElement("span"); d.textContent = s; return d.innerHTML; }
  function tick() {
    fetch(list.dataset.poll, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var live = data.transfers.filter(function (t) { return !dismissed[t.task_id]; });
        list.innerHTML = live.length ? live.map(function (t) {
          return '<p data-task="' + t.task_id + '">' + text(t.at) + " " + text(t.kind_name) + " " +
                 text(t.elder_name || t.caller) + "（" + text(t.state_name) + "，已等待" +
                 text(String(t.waited_s)) + "秒）</p>";
        }).join("") : '<p class="muted">暂无转人工来电</p>';
        var top = live[0];
        if (!top) { if (shown !== null) { pop.innerHTML = ""; shown = null; } return; }
        if (top.task_id === shown) return;
        shown = top.task_id;
        fetch(top.card_url, {credentials: "same-origin"}).then(function (r) { return r.text(); })
          .then(function (html) { pop.innerHTML = html; });  // the tab title is desk.js's
      }).catch(function () {});
  }
  pop.addEventListener("click", function (e) {
    if (e.target.matches("[data-dismiss]")) { dismissed[shown] = true; pop.innerHTML = ""; shown = null; tick(); }
  });
  tick();
  setInterval(tick, 1000);
  // The queue: fetched again every 5 s, unless the operator is typing in it.
  var box = document.getElementById("queue-box");
  setInterval(function () {
    if (box.contains(document.activeElement)) return;
    fetch(box.dataset.poll, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && !box.contains(document.activeElement)) box.innerHTML = html; })
      .catch(function () {});
  }, 5000);
})();
