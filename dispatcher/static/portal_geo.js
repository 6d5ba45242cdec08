// The portal's check-in and check-out forms: ask the phone for its location before sending.
// Without permission (or a timeout) the form is sent as it is, and the visit is unverified
// unless a visit code was entered. Delegated from the document, so cards the page refreshes in
// place (portal_live.js) are covered too; a form that already carries a location is sent as it is.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.visit-proof")) { return; }
    if (form.dataset.asked || !navigator.geolocation || form.elements.latitude.value) { return; }
    event.preventDefault();
    form.dataset.asked = "1";
    var status = form.querySelector(".geo-status");
    if (status) { status.textContent = "正在获取定位……"; }
    navigator.geolocation.getCurrentPosition(function (position) {
      form.elements.latitude.value = position.coords.latitude.toFixed(6);
      form.elements.longitude.value = position.coords.longitude.toFixed(6);
      form.submit();
    }, function () {
      form.submit();
    }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  });
}());
