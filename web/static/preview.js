// Live preview: as an organiser types, post the ask's form (with its CSRF token) and
// swap in the previews the server draws; mark each field the server found wrong.
// Without this script the Preview button posts the form and gets the whole page.
// The server's HTML is taken whole (parsed, never as code); messages go in as text.
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-preview]");
  if (!form || !window.fetch || !window.DOMParser) return;
  var output = document.getElementById(form.getAttribute("data-live-preview"));
  var status = document.querySelector("[data-preview-status]");
  if (!output) return;
  var WAIT_MS = 300;
  var timer = null;
  var latest = 0;
  var running = null;

  function say(text) {
    if (status && status.textContent !== text) status.textContent = text;
  }

  function markFields(errors) {
    var slots = form.querySelectorAll("[data-error-for]");
    for (var i = 0; i < slots.length; i++) {
      var slot = slots[i];
      var name = slot.getAttribute("data-error-for");
      var message = Object.prototype.hasOwnProperty.call(errors, name) ? errors[name] : "";
      slot.textContent = message;
      slot.hidden = !message;
      // A field in a closed part (an ask's words in another language): open it.
      var part = message && slot.closest ? slot.closest("details") : null;
      if (part) part.open = true;
      var input = form.elements.namedItem(name);
      if (input && input.setAttribute) {
        if (message) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }
  }

  function show(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var result = doc.querySelector(".preview-result");
    if (!result) throw new Error("no preview in the answer");
    var errors = JSON.parse(result.getAttribute("data-errors") || "{}");
    output.replaceChildren(document.importNode(result, true));
    markFields(errors);
    var count = Object.keys(errors).length;
    say(count ? "The preview waits for " + count + (count === 1 ? " fix." : " fixes.")
              : "Preview updated.");
  }

  function fail(text) {
    var note = output.querySelector("[data-preview-trouble]");
    if (!note) {
      note = document.createElement("p");
      note.className = "flash flash-error";
      note.setAttribute("data-preview-trouble", "");
      output.insertBefore(note, output.firstChild);
    }
    note.textContent = text;
    say(text);
  }

  function send() {
    var mine = ++latest;
    if (running) running.abort();
    running = window.AbortController ? new AbortController() : null;
    output.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "X-Preview": "fragment", Accept: "text/html" },
      signal: running ? running.signal : undefined,
    })
      .then(function (response) {
        if (response.redirected) {
          // The session ended: the sign-in page, then back here.
          window.location.reload();
          return null;
        }
        return response.text().then(function (text) {
          if (response.ok) return text;
          if (response.status === 413) throw new Error("That is too much text to preview.");
          throw new Error(text.trim().split("\n")[0] || "The server said " + response.status + ".");
        });
      })
      .then(function (html) {
        if (html !== null && mine === latest) show(html);
      })
      .catch(function (error) {
        if (error.name === "AbortError" || mine !== latest) return;
        fail("The preview couldn’t be updated: " + error.message);
      })
      .then(function () {
        if (mine === latest) output.removeAttribute("aria-busy");
      });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(send, WAIT_MS);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
