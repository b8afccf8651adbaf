// Seconds counting down in place (data-countdown): until a code may be sent again, or
// until the page returns to the business line (the meta refresh does the going).
(function () {
  "use strict";
  for (const element of document.querySelectorAll("[data-countdown]")) {
    let left = parseInt(element.dataset.countdown, 10) || 0;
    if (left <= 0) {
      continue;
    }
    const tick = () => {
      left -= 1;
      if (left > 0) {
        element.textContent = element.dataset.countdownText.replace("{seconds}", String(left));
        setTimeout(tick, 1000);
        return;
      }
      if (element.dataset.countdownDone) {
        element.textContent = element.dataset.countdownDone;
      }
      if (element.tagName === "BUTTON") {
        element.disabled = false;
      }
    };
    setTimeout(tick, 1000);
  }
})();
