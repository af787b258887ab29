// Live progress of running sends: asks the server every few seconds and updates
// the table in place. Numbers only: every cell is set with textContent.
(function () {
  "use strict";
  var root = document.querySelector("[data-progress-url]");
  if (!root) return;
  var url = root.getAttribute("data-progress-url");
  var rows = root.querySelector("[data-progress-rows]");
  var status = root.querySelector("[data-progress-status]");
  var lastSummary = status ? status.textContent : "";
  var fmt = new Intl.NumberFormat("en-GB");

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    seconds = Math.round(seconds);
    if (seconds < 90) return seconds + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function cell(tag, text, numeric) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (numeric) el.className = "num";
    if (tag === "th") el.setAttribute("scope", "row");
    return el;
  }

  function render(running) {
    var body = document.createDocumentFragment();
    if (!running.length) {
      var empty = document.createElement("tr");
      var td = cell("td", "Nothing is being sent right now.");
      td.colSpan = 10;
      td.className = "empty";
      empty.appendChild(td);
      body.appendChild(empty);
    }
    running.forEach(function (p) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-prompt", p.prompt_id);
      tr.appendChild(cell("th", p.prompt_id + ": " + p.campaign + "/" + p.ask_id));
      var bar = document.createElement("progress");
      bar.max = p.total || 1;
      bar.value = p.total - p.left;
      bar.textContent = Math.round((100 * (p.total - p.left)) / (p.total || 1)) + "%";
      var td = document.createElement("td");
      td.appendChild(bar);
      tr.appendChild(td);
      [p.sent, p.gone, p.failed, p.unknown, p.cancelled, p.left].forEach(function (n) {
        tr.appendChild(cell("td", fmt.format(n), true));
      });
      tr.appendChild(cell("td", p.rate.toFixed(1) + "/s", true));
      tr.appendChild(cell("td", duration(p.eta_seconds), true));
      body.appendChild(tr);
    });
    rows.replaceChildren(body);
    // Announce only a change in what is running, not every tick.
    var summary = running.length
      ? running.length + (running.length === 1 ? " send" : " sends") + " under way."
      : "No send is running.";
    if (status && summary !== lastSummary) {
      status.textContent = summary;
      lastSummary = summary;
    }
  }

  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) render(data.running);
      })
      .catch(function () {})
      .then(function () {
        window.setTimeout(tick, 2000);
      });
  }
  window.setTimeout(tick, 2000);
})();
