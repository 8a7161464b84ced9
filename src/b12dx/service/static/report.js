/* Result pages: the print button, and every collapsed section opened for printing
 * (no inline handlers, so the page keeps a strict Content-Security-Policy). */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      if (d.closest(".no-print")) { return; }
      d.open = true; reopened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
  });
})();
