// The Matches page's keys: j and k move through the matches, o opens the current one. No inline script (CSP).
(function () {
  "use strict";
  var current = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("ol.matches > li.match"));
  }

  function select(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    if (current >= 0 && all[current]) all[current].classList.remove("current");
    current = index;
    var row = all[current];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    all.forEach(function (other) { if (other !== row) other.removeAttribute("aria-current"); });
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (event.key === "j") {
      select(current + 1);
      event.preventDefault();
    } else if (event.key === "k") {
      select(current < 0 ? 0 : current - 1);
      event.preventDefault();
    } else if (event.key === "o" || event.key === "Enter") {
      var row = rows()[current];
      if (!row || (event.key === "Enter" && event.target !== row)) return;
      var open = row.querySelector("a.open");
      if (open) window.location.assign(open.getAttribute("href"));
      event.preventDefault();
    }
  });

  // A click in a row makes it the current one, so j/k go on from there.
  document.addEventListener("click", function (event) {
    var row = event.target && event.target.closest ? event.target.closest("li.match") : null;
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0) select(index);
    }
  });
})();
