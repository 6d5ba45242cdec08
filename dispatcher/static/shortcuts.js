// Keyboard shortcuts: a key clicks (or focuses) the first visible element marked data-key="KEY".
document.addEventListener("keydown", function (e) {
  var t = e.target;
  if (e.key === "Escape" && t.blur) { t.blur(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) return;
  var el = Array.prototype.find.call(document.querySelectorAll('[data-key="' + e.key + '"]'),
                                     function (x) { return x.offsetParent !== null; });
  if (!el) return;
  e.preventDefault();
  if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) el.focus(); else el.click();
});
