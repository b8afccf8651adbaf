// The handwritten signature: a pad drawn with mouse, pen or finger (pointer events), sent
// as a PNG data URL in a hidden field. The "handwriting" gate is open while a seal is
// chosen, or once something was drawn.
(function () {
  "use strict";
  const form = document.querySelector("[data-sign-form]");
  if (!form) {
    return;
  }
  const pad = form.querySelector("[data-pad]");
  const canvas = pad.querySelector("canvas");
  const field = pad.querySelector("[data-pad-data]");
  const ink = canvas.getContext("2d");
  let last = null; // the pen is down while set
  let moved = false;
  let strokes = 0;

  ink.lineWidth = 5;
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.strokeStyle = "#111";

  function handwriting() {
    const chosen = form.querySelector("input[name=appearance]:checked");
    return Boolean(chosen) && chosen.value === "handwriting";
  }

  function report() {
    const ready = !handwriting() || strokes > 0;
    document.dispatchEvent(new CustomEvent("sign:gate", { detail: { name: "handwriting", open: ready } }));
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * canvas.width) / box.width,
      y: ((event.clientY - box.top) * canvas.height) / box.height,
    };
  }

  canvas.addEventListener("pointerdown", (event) => {
    last = point(event);
    moved = false;
    canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) {
      return;
    }
    const next = point(event);
    ink.beginPath();
    ink.moveTo(last.x, last.y);
    ink.lineTo(next.x, next.y);
    ink.stroke();
    moved = moved || last.x !== next.x || last.y !== next.y;
    last = next;
    event.preventDefault();
  });
  const finish = () => {
    if (last && moved) {
      strokes += 1;
      report();
    }
    last = null;
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  pad.querySelector("[data-pad-clear]").addEventListener("click", () => {
    ink.clearRect(0, 0, canvas.width, canvas.height);
    strokes = 0;
    report();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "appearance") {
      pad.hidden = !handwriting();
      report();
    }
  });
  form.addEventListener("submit", () => {
    field.value = handwriting() && strokes > 0 ? canvas.toDataURL("image/png") : "";
  });

  pad.hidden = !handwriting();
  report();
})();
