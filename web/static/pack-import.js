// The Campaigns page's import form: a chosen pack file's text goes into the form's
// text box (and its name into a hidden field), so the form posts as every other form
// does. Without this script, organisers paste the text themselves.
(function () {
  "use strict";
  var picker = document.getElementById("pack-file");
  if (!picker || !window.FileReader) return;
  var target = document.getElementById(picker.getAttribute("data-target"));
  var name = document.getElementById(picker.getAttribute("data-name"));
  var problem = document.getElementById("pack-file-error");
  var limit = parseInt(picker.getAttribute("data-limit"), 10);
  function say(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }
  picker.addEventListener("change", function () {
    var file = picker.files && picker.files[0];
    say("");
    if (!file) return;
    if (file.size > limit) {
      say(file.name + " is " + Math.ceil(file.size / 1024) + " KB; a pack here may be " +
          Math.floor(limit / 1024) + " KB.");
      picker.value = "";
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      target.value = String(reader.result);
      name.value = file.name;
    };
    reader.onerror = function () { say("That file can't be read."); };
    reader.readAsText(file, "utf-8");
  });
})();
