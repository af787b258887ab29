// The Campaigns page's import form: a file too big to be a pack is named at once,
// before it is sent. The form is a plain file upload and works without this script
// (the server refuses a body that big with one line of its own).
(function () {
  "use strict";
  var picker = document.getElementById("pack-file");
  var problem = document.getElementById("pack-file-error");
  if (!picker || !problem) return;
  var limit = parseInt(picker.getAttribute("data-limit"), 10);
  picker.addEventListener("change", function () {
    var file = picker.files && picker.files[0];
    problem.textContent = "";
    problem.hidden = true;
    if (!file || !(file.size > limit)) return;
    problem.textContent = file.name + " is " + Math.ceil(file.size / 1024) +
      " KB; a pack may be " + Math.floor(limit / 1024) + " KB.";
    problem.hidden = false;
    picker.value = "";
  });
})();
