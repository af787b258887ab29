// The schedule form: offer only the chosen campaign's asks. Without this script
// every ask is listed, and the server says if one doesn't belong.
(function () {
  "use strict";
  var campaign = document.getElementById("campaign");
  var ask = document.getElementById("ask");
  if (!campaign || !ask) return;
  function filter() {
    var groups = ask.querySelectorAll("optgroup");
    for (var i = 0; i < groups.length; i++) {
      var show = groups[i].getAttribute("data-campaign") === campaign.value;
      groups[i].hidden = !show;
      groups[i].disabled = !show;
    }
    var chosen = ask.options[ask.selectedIndex];
    if (chosen && chosen.parentNode.tagName === "OPTGROUP" && chosen.parentNode.disabled) {
      ask.value = "";
    }
  }
  campaign.addEventListener("change", filter);
  filter();
})();
