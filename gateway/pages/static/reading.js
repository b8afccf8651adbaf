// Forced reading: the "reading" gate opens once every contract was scrolled to its end
// and the minimum reading time (counted down from what the server says is left) passed.
(function () {
  "use strict";
  const notice = document.querySelector("[data-reading]");
  if (!notice) {
    return; // no forced reading for this business line
  }
  const viewers = Array.from(document.querySelectorAll("[data-viewer]"));
  const timer = notice.querySelector("[data-reading-timer]");
  const read = new Set();
  let left = parseInt(notice.dataset.secondsLeft, 10) || 0;

  function report() {
    const done = left <= 0 && read.size === viewers.length;
    document.dispatchEvent(new CustomEvent("sign:gate", { detail: { name: "reading", open: done } }));
  }

  function check(viewer) {
    const id = viewer.dataset.viewer;
    if (read.has(id) || viewer.scrollTop + viewer.clientHeight < viewer.scrollHeight - 4) {
      return;
    }
    read.add(id);
    const item = document.querySelector(`[data-contract-item="${CSS.escape(id)}"] [data-read-mark]`);
    if (item) {
      item.textContent = item.dataset.readText;
      item.classList.add("read");
    }
    report();
  }

  for (const viewer of viewers) {
    viewer.addEventListener("scroll", () => check(viewer), { passive: true });
    check(viewer); // a document shorter than its frame is read as it shows
  }

  function tick() {
    timer.textContent = left > 0 ? notice.dataset.waitText.replace("{seconds}", String(left)) : "";
    if (left <= 0) {
      report();
      return;
    }
    left -= 1;
    setTimeout(tick, 1000);
  }

  report();
  tick();
})();
