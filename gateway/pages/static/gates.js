// Submit buttons that wait for their gates (data-gates="reading handwriting agree"). Each
// gate is opened or closed by a "sign:gate" event from the script watching it, or by a
// checkbox with data-gate. A gate nobody reported stays closed: safe if a script fails.
(function () {
  "use strict";
  const open = {};
  const gated = Array.from(document.querySelectorAll("button[data-gates]"));

  function update() {
    for (const button of gated) {
      const names = button.dataset.gates.split(/\s+/).filter(Boolean);
      button.disabled = !names.every((name) => open[name]);
    }
  }

  document.addEventListener("sign:gate", (event) => {
    open[event.detail.name] = event.detail.open;
    update();
  });

  for (const box of document.querySelectorAll("input[type=checkbox][data-gate]")) {
    const report = () => {
      open[box.dataset.gate] = box.checked;
      update();
    };
    box.addEventListener("change", report);
    report();
  }

  // One click, one request: buttons are disabled once the form is on its way (after the
  // browser has read the clicked button's value).
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      setTimeout(() => {
        for (const button of form.querySelectorAll("button")) {
          button.disabled = true;
        }
        form.classList.add("busy");
      }, 0);
    });
  }

  update();
})();
