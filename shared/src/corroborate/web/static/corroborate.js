// Corroborate's own script (no inline script anywhere): on a page that shows an error summary,
// move focus to it, so that a screen reader announces the problems first (the GOV.UK pattern).
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});
