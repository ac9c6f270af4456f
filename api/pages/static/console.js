// The owner's console: keyboard triage of the review queue. No inline script anywhere (the CSP
// allows only our own files); the CSRF header for htmx comes from hx-headers on <body>.
(function () {
  "use strict";

  function flags() {
    return Array.prototype.slice.call(document.querySelectorAll("article[data-flag]"));
  }

  function current() {
    return document.querySelector("article[data-flag].current");
  }

  function select(flag) {
    var before = current();
    if (before) before.classList.remove("current");
    if (!flag) return;
    flag.classList.add("current");
    flag.focus({ preventScroll: true });
    flag.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = flags();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  // a / r: choose the decision and type the reason; Enter then sends that decision (never the other).
  function prepare(decision) {
    var flag = current() || flags()[0];
    if (!flag) return;
    select(flag);
    var form = flag.querySelector("form.decide");
    if (!form) return;
    form.dataset.decision = decision;
    form.classList.remove("approving", "rejecting");
    form.classList.add(decision === "approved" ? "approving" : "rejecting");
    var reason = form.querySelector("input[name=reason]");
    if (reason) reason.focus();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (typing) {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && target.name === "reason") {
        var form = target.form;
        if (form && form.classList.contains("decide")) {
          event.preventDefault();
          var decision = form.dataset.decision;
          var button = decision && form.querySelector("button[data-decision=" + decision + "]");
          // A real click: htmx 2 sends the submitter it saw clicked (requestSubmit(button) is not seen).
          if (button) button.click();
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "a") { prepare("approved"); event.preventDefault(); }
    else if (event.key === "r") { prepare("rejected"); event.preventDefault(); }
  });

  // htmx swaps nothing on an error answer (a stale CSRF token, the server down): say so in the row.
  function sayNotDone(event, words) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    var note = document.createElement("p");
    note.className = "error";
    note.setAttribute("role", "alert");
    note.textContent = words;
    target.appendChild(note);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : "?";
    sayNotDone(event, "That was not done (the server answered " + status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    sayNotDone(event, "That was not done: the server could not be reached. Try again.");
  });

  // After a decision replaces a flag, move on to the next open one.
  document.addEventListener("htmx:afterSwap", function (event) {
    var swapped = event.detail && event.detail.elt;
    if (swapped && swapped.matches && swapped.matches("article[data-flag]")) {
      var all = flags();
      var at = all.indexOf(swapped);
      var next = all.slice(at + 1).filter(function (f) { return !f.classList.contains("decided"); })[0];
      if (next) select(next);
    }
  });
})();
