// The face photo for the face-verification provider, read into a hidden field as a data
// URL (the form posts no files); the "face" gate opens once there is one.
(function () {
  "use strict";
  const input = document.querySelector("[data-face-input]");
  if (!input) {
    return;
  }
  const field = document.querySelector("[data-face-data]");
  const report = (open) => document.dispatchEvent(new CustomEvent("sign:gate", { detail: { name: "face", open } }));

  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    field.value = "";
    report(false);
    if (!file) {
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      field.value = String(reader.result);
      report(true);
    };
    reader.readAsDataURL(file);
  });
  report(false);
})();
