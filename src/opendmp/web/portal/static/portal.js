// OpenDMP portals: progressive enhancement only; every page works without this file.
// Forms marked data-confirm ask before a destructive action (deleting, blocking).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) { return; }
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
