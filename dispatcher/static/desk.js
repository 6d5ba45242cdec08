// The operator's desk, on every staff page of operators and supervisors: poll the transferred calls,
// show a banner (caller and reason) and the list of every waiting call (each a link to its card,
// with its waiting time in seconds and the network's state), beep for a new one unless muted, and
// put the count in the tab title. The URL comes from the page: #desk data-poll. Each answer is
// also dispatched as a "vnh:transfers" event, which the console's screen-pop (console.js) reads.
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  if (!desk || !window.fetch) return;
  var banner = document.getElementById("desk-banner"), list = document.getElementById("desk-calls");
  var mute = document.getElementById("desk-mute");
  var title = document.title, shownIds = "", calls = [], fetchedAt = 0;
  var SEEN = "vnh.desk.seen", MUTED = "vnh.desk.muted";

  function stored(store, key, fallback) {
    try { var v = store.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function keep(store, key, value) { try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }

  function showMute() {
    var muted = stored(localStorage, MUTED, false);
    mute.setAttribute("aria-pressed", muted ? "true" : "false");
    mute.textContent = muted ? "已静音（点击恢复提示音）" : "提示音：开（点击静音）";
  }
  mute.addEventListener("click", function () { keep(localStorage, MUTED, !stored(localStorage, MUTED, false)); showMute(); });
  showMute();

  var audio = null;
  function beep() {
    if (stored(localStorage, MUTED, false)) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended" && audio.resume) audio.resume();
      [0, 0.35].forEach(function (at) {  // two short tones, like a desk phone
        var osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime + at;
        osc.type = "sine"; osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, t); gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
        osc.connect(gain); gain.connect(audio.destination); osc.start(t); osc.stop(t + 0.3);
      });
    } catch (e) { /* no sound on this browser: the banner and the title still tell */ }
  }

  function who(t) { return t.elder_name || t.caller || "未知号码"; }
  function seconds(t) { return t.waited_s + Math.floor((Date.now() - fetchedAt) / 1000); }

  function item(t) {
    var li = document.createElement("li"), a = document.createElement("a");
    li.dataset.task = t.task_id;
    li.className = t.kind === "emergency" ? "emergency" : "";
    a.href = t.page_url; a.textContent = who(t);
    li.appendChild(a);
    li.appendChild(document.createTextNode(" " + t.kind_name + "：" + t.reason + " — "));
    var state = document.createElement("span"); state.className = "call-state"; li.appendChild(state);
    li.appendChild(document.createTextNode("，已等待 "));
    var wait = document.createElement("span"); wait.className = "call-wait"; li.appendChild(wait);
    li.appendChild(document.createTextNode(" 秒"));
    return li;
  }

  function paint() {
    Array.prototype.forEach.call(list.children, function (li, i) {
      var t = calls[i];
      var state = li.querySelector(".call-state");
      state.textContent = t.state_name; state.className = "call-state state-" + t.state;
      li.querySelector(".call-wait").textContent = seconds(t);
    });
  }

  function show(data) {
    calls = data.transfers; fetchedAt = Date.now();
    var ids = calls.map(function (t) { return t.task_id; }).join(",");
    if (ids !== shownIds) {
      list.textContent = "";
      calls.forEach(function (t) { list.appendChild(item(t)); });
      shownIds = ids;
    }
    paint();
    desk.hidden = calls.length === 0;
    if (!calls.length) { banner.textContent = ""; document.title = title; return; }
    var top = calls[0];
    banner.className = top.kind === "emergency" ? "emergency" : "";
    banner.textContent = "来电转接：" + who(top) + "（" + top.kind_name + "：" + top.reason + "）" +
      (calls.length > 1 ? "，另有 " + (calls.length - 1) + " 个来电等待" : "");
    document.title = "(" + calls.length + ") 来电转接 – " + title;
    var seen = stored(sessionStorage, SEEN, []), fresh = false;
    calls.forEach(function (t) {
      if (seen.indexOf(t.task_id) < 0) { seen.push(t.task_id); if (t.state !== "ended") fresh = true; }
    });
    keep(sessionStorage, SEEN, seen.slice(-200));
    if (fresh) beep();
  }

  function tick() {
    fetch(desk.dataset.poll, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        show(data);
        // The console's screen-pop reads the same answer: one poll a second per page, not two.
        document.vnhTransfers = data;  // for a page script that starts after this answer came
        document.dispatchEvent(new CustomEvent("vnh:transfers", {detail: data}));
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }
  // Closing forms: the browser's "fill in this field" in Chinese (the server says the same with a 400).
  var ASK = {outcome: "请选择办结结果", confirm_emergency: "请确认已妥善处理紧急求助"};
  document.addEventListener("invalid", function (e) {
    var el = e.target;
    if (el.form && el.form.classList.contains("close-task") && ASK[el.name]) el.setCustomValidity(ASK[el.name]);
  }, true);
  document.addEventListener("change", function (e) {
    if (e.target.setCustomValidity && ASK[e.target.name]) e.target.setCustomValidity("");
  }, true);

  tick();
  setInterval(tick, 1000);
  setInterval(paint, 250);
})();
