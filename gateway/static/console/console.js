// Small enhancements; every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Ask before irreversible actions (revoke, disable, rotate).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // More signer rows than the page starts with: copy the last row under the next index.
  for (const button of document.querySelectorAll("[data-add-signer]")) {
    const body = button.closest("[data-signer-rows]").querySelector("tbody");
    button.hidden = false;
    button.addEventListener("click", () => {
      const rows = body.querySelectorAll("[data-signer-row]");
      const last = rows[rows.length - 1];
      const next = rows.length;
      const row = last.cloneNode(true);
      for (const input of row.querySelectorAll("input, select")) {
        input.name = input.name.replace(/^signer-\d+-/, `signer-${next}-`);
        input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/\d+$/, String(next + 1)));
        if (input.type === "checkbox") input.checked = false;
        else if (input.tagName === "INPUT") input.value = "";
      }
      body.appendChild(row);
      row.querySelector("input").focus();
    });
  }

  // Copy a secret shown once.
  for (const button of document.querySelectorAll("[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.setAttribute("aria-pressed", "true");
    });
  }
});
