// Today's board: a filter applies as soon as it is chosen, and the rows stay current without a reload.
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var board = document.getElementById("board");
  var url = location.pathname + (location.search ? location.search + "&" : "?") + "partial=1";
  setInterval(function () {
    fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && html !== board.innerHTML) board.innerHTML = html; }).catch(function () {});
  }, 2000);
})();
