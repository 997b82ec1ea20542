// The search page: show a refused search (400, the message names the field) in place, as the
// page does without JavaScript; htmx swaps only 2xx answers by default.
document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  if (detail.xhr.status === 400 && detail.target && detail.target.id === "search-results") {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});
