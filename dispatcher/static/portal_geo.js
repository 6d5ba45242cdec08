// The portal's check-in and check-out forms: ask the phone for its location before sending.
// Without permission (or a timeout) the form is sent as it is, and the visit is unverified
// unless a visit code was entered.
(function () {
  "use strict";
  document.querySelectorAll("form.visit-proof").forEach(function (form) {
    var asked = false;
    form.addEventListener("submit", function (event) {
      if (asked || !navigator.geolocation) { return; }
      event.preventDefault();
      asked = true;
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
  });
}());
