/* The pivot page (/pivot): a member's first click loads its children (htmx, once); later
   clicks hide or show them again. A refused expansion (4xx HTML) is shown in place. */
(function () {
  "use strict";

  function depthOf(row) {
    return Number(row.dataset.depth || 0);
  }

  function expanded(row) {
    var button = row.querySelector("[data-pivot-toggle]");
    return !!button && button.getAttribute("aria-expanded") === "true";
  }

  // Show the rows under `row` whose ancestors are all expanded; hide the others.
  function layOut(row) {
    var depth = depthOf(row);
    var open = expanded(row);
    var limit = depth + 1;
    var next = row.nextElementSibling;
    for (; next && next.dataset.depth && depthOf(next) > depth; next = next.nextElementSibling) {
      var at = depthOf(next);
      next.hidden = !open || at > limit;
      if (!next.hidden) limit = expanded(next) ? at + 1 : at;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-pivot-toggle]");
    if (!button || !button.dataset.loaded) return; // the first click is htmx's
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    layOut(button.closest("tr"));
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var button = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!button || !button.matches || !button.matches("[data-pivot-toggle]")) return;
    button.dataset.loaded = "true";
    button.setAttribute("aria-expanded", "true");
  });

  // htmx 2 swaps no 4xx by default: the page's own fragments (HTML) carry the message.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status >= 400 && xhr.status < 500 && type.indexOf("text/html") === 0 &&
        event.detail.target.closest(".pivot-page")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
