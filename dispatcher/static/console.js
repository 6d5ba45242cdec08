// Screen-pop: from the transferred calls desk.js polls for (its "vnh:transfers" event), show the
// most urgent one's card as soon as it appears, or the one the operator chose from the list.
// The queue's URL comes from the page: #queue-box data-poll.
(function () {
  var shown = null, pinned = null, dismissed = {};
  var list = document.getElementById("transfers"), pop = document.getElementById("pop");
  function text(s) { var d = document.createElement("span"); d.textContent = s; return d.innerHTML; }
  function open(t) {
    shown = t.task_id;
    // A card not fetched (a busy server's 503, the network) is asked for again at the next poll.
    function again() { if (shown === t.task_id) shown = null; }
    fetch(t.card_url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html === null) again(); else pop.innerHTML = html; }, again);  // the tab title is desk.js's
  }
  var live = [], latest = null;
  function tick() { if (latest) show(latest); }
  function show(data) {
    latest = data;
    live = data.transfers.filter(function (t) { return !dismissed[t.task_id]; });
    // Every waiting call is a link: a click opens its card here (its own page without scripts).
    list.innerHTML = live.length ? live.map(function (t) {
      return '<p data-task="' + t.task_id + '"><a href="' + text(t.page_url) + '" data-open="' + t.task_id + '">' +
             text(t.at) + " " + text(t.kind_name) + " " + text(t.elder_name || t.caller) + "</a>（" +
             text(t.state_name) + "，已等待" + text(String(t.waited_s)) + "秒）</p>";
    }).join("") : '<p class="muted">暂无转人工来电</p>';
    var ids = live.map(function (t) { return t.task_id; });
    if (pinned !== null && ids.indexOf(pinned) < 0) pinned = null;
    var target = pinned !== null ? live[ids.indexOf(pinned)] : live[0];
    if (!target) { if (shown !== null) { pop.innerHTML = ""; shown = null; } return; }
    if (target.task_id === shown) return;
    // The operator is typing on the card shown: a newer call waits on the list, not over the note.
    if (shown !== null && ids.indexOf(shown) >= 0 && pop.contains(document.activeElement)) return;
    open(target);
  }
  list.addEventListener("click", function (e) {
    var a = e.target.closest("[data-open]");
    if (!a) return;
    e.preventDefault();
    pinned = Number(a.dataset.open);
    var t = live.filter(function (x) { return x.task_id === pinned; })[0];
    if (t) open(t);
  });
  pop.addEventListener("click", function (e) {
    if (e.target.matches("[data-dismiss]")) {
      dismissed[shown] = true; pop.innerHTML = ""; if (pinned === shown) pinned = null; shown = null; tick();
    }
  });
  // desk.js polls the transfers once a second for every staff page and passes each answer on.
  document.addEventListener("vnh:transfers", function (e) { show(e.detail); });
  if (document.vnhTransfers) show(document.vnhTransfers);
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
