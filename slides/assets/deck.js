// The presenter: shows one slide at a time and moves between them.
//
// Keys: Right, Down, Page Down, Space: next slide. Left, Up, Page Up, Backspace: previous.
// Home and End: first and last. S: speaker notes under the slide. P: a presenter window
// (notes, next slide, clock) that follows this one. T: restart the clock. B: blank screen.
// F: full screen. H or ?: this list on screen. A click moves on; a click on the left
// fifth of the window moves back. The slide's number is kept in the address (#5), so a
// reload stays on the same slide.
//
// With ?selftest in the address, the page checks itself and writes the result into the
// attribute data-selftest of <html>; the tests in tests/test_slides.py read it.

(function () {
  "use strict";

  const WIDTH = 1280; // the canvas every slide is laid out on, in deck.css
  const HEIGHT = 720;
  const root = document.documentElement;
  const body = document.body;
  const slides = Array.from(document.querySelectorAll(".slide"));
  const params = new URLSearchParams(location.search);
  const isPresenter = params.has("presenter");
  let current = 0;
  let partner = isPresenter ? window.opener : null; // the other window, when there is one

  // --- Panels the page adds to itself: notes, the next slide, the list of keys ---------

  const notesPanel = addElement("section", "notes-panel");
  const nextPreview = addElement("div", "next-preview");
  const help = addElement("div", "help");
  help.innerHTML = [
    ["&rarr; Space", "next slide"],
    ["&larr;", "previous slide"],
    ["S", "speaker notes"],
    ["P", "presenter window"],
    ["T", "restart the clock"],
    ["B", "blank screen"],
    ["F", "full screen"],
    ["H", "this help"],
  ]
    .map(([keys, action]) => `<div><kbd>${keys}</kbd> ${action}</div>`)
    .join("");

  function addElement(tag, className) {
    const element = document.createElement(tag);
    element.className = className;
    body.appendChild(element);
    return element;
  }

  // --- Moving between slides ------------------------------------------------------------

  function clamp(index) {
    return Math.max(0, Math.min(slides.length - 1, index));
  }

  function slideInAddress() {
    const number = parseInt(location.hash.slice(1), 10);
    return Number.isNaN(number) ? 0 : clamp(number - 1);
  }

  function show(index, tellPartner = true) {
    current = clamp(index);
    slides.forEach((slide, i) => slide.classList.toggle("current", i === current));
    const hash = `#${current + 1}`;
    if (location.hash !== hash) {
      history.replaceState(null, "", hash);
    }
    if (current > 0) {
      startClock(false);
    }
    showNotes();
    showNextSlide();
    if (tellPartner && partner && !partner.closed) {
      partner.postMessage({ deckSlide: current }, "*");
    }
  }

  // --- Fitting the canvas into the window ----------------------------------------------

  function fit() {
    const presenter = body.classList.contains("presenter");
    const notes = body.classList.contains("show-notes");
    const width = innerWidth * (presenter ? 0.58 : 1);
    const height = innerHeight * (presenter ? 0.94 : notes ? 0.62 : 1);
    root.style.setProperty("--scale", Math.min(width / WIDTH, height / HEIGHT));
    root.style.setProperty("--preview-scale", (innerWidth * 0.36) / WIDTH);
  }

  // --- Speaker notes, the clock and the presenter window --------------------------------

  // The clock starts when the talk leaves the title slide, and survives a reload. (The
  // browser may refuse storage to a page opened from a file: then it just does not.)
  let clockStart = Number(readStorage("deckClockStart")) || null;

  function readStorage(key) {
    try {
      return sessionStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function startClock(restart) {
    if (restart || clockStart === null) {
      clockStart = Date.now();
      try {
        sessionStorage.setItem("deckClockStart", String(clockStart));
      } catch (error) {
        // The clock still runs; it only starts again after a reload.
      }
    }
  }

  function minutesSinceStart() {
    return clockStart === null ? 0 : Math.floor((Date.now() - clockStart) / 60000);
  }

  function clock(minutes) {
    return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
  }

  // "on time", "3 min ahead" or "5 min behind": the clock against the section's plan.
  function pace(start, end, elapsed) {
    if (elapsed < start) return `${start - elapsed} min ahead`;
    if (elapsed > end) return `${elapsed - end} min behind`;
    return "on time";
  }

  function showNotes() {
    const slide = slides[current];
    const start = Number(slide.dataset.plannedStart);
    const end = Number(slide.dataset.plannedEnd);
    const elapsed = minutesSinceStart();
    const status = clockStart !== null
      ? `Clock ${clock(elapsed)}, ${pace(start, end, elapsed)}`
      : "The clock starts when you leave slide 1";
    notesPanel.innerHTML =
      `<header><span>Slide ${current + 1} of ${slides.length}</span>` +
      `<span>Planned ${clock(start)} to ${clock(end)}</span><span>${status}</span></header>` +
      slide.querySelector(".notes").innerHTML;
  }

  function showNextSlide() {
    if (!isPresenter) return;
    const next = slides[current + 1];
    nextPreview.replaceChildren();
    if (next) {
      const copy = next.cloneNode(true);
      copy.removeAttribute("id");
      nextPreview.appendChild(copy);
    }
  }

  function openPresenterWindow() {
    const address = `${location.href.split(/[?#]/)[0]}?presenter#${current + 1}`;
    partner = window.open(address, "deck-presenter", "width=1280,height=760");
  }

  // The other window moved: follow it. A window that lost its partner (say, after a
  // reload) takes the first window that writes to it as its new partner.
  window.addEventListener("message", (event) => {
    if (!Number.isInteger(event.data && event.data.deckSlide)) return;
    if (!partner || partner.closed) partner = event.source;
    if (event.source === partner) show(event.data.deckSlide, false);
  });

  // --- Keys and clicks ------------------------------------------------------------------

  function toggle(className) {
    body.classList.toggle(className);
    fit();
  }

  const ACTIONS = {
    ArrowRight: () => show(current + 1),
    ArrowDown: () => show(current + 1),
    PageDown: () => show(current + 1),
    " ": () => show(current + 1),
    ArrowLeft: () => show(current - 1),
    ArrowUp: () => show(current - 1),
    PageUp: () => show(current - 1),
    Backspace: () => show(current - 1),
    Home: () => show(0),
    End: () => show(slides.length - 1),
    s: () => toggle("show-notes"),
    p: () => openPresenterWindow(),
    t: () => {
      startClock(true);
      showNotes();
    },
    b: () => toggle("blank"),
    ".": () => toggle("blank"),
    f: () =>
      document.fullscreenElement
        ? document.exitFullscreen()
        : root.requestFullscreen().catch(() => {}),
    h: () => toggle("show-help"),
    "?": () => toggle("show-help"),
    Escape: () => body.classList.remove("show-help", "blank"),
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return; // leave Ctrl+P etc. alone
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const action = event.shiftKey && key === " " ? () => show(current - 1) : ACTIONS[key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("click", (event) => {
    // A link, or text being selected, is not a wish to change slides.
    if (event.target.closest("a, .notes-panel, .help") || String(getSelection())) return;
    show(event.clientX < innerWidth / 5 ? current - 1 : current + 1);
  });

  window.addEventListener("hashchange", () => show(slideInAddress()));
  window.addEventListener("resize", fit);
  setInterval(showNotes, 30000); // keeps the clock in the notes up to date

  // --- Self-test, for the automated tests -------------------------------------------------

  function visibleSlides() {
    return slides
      .filter((slide) => getComputedStyle(slide).display !== "none")
      .map((slide) => Number(slide.dataset.number));
  }

  // Slides (by number) whose content is larger than the slide, or whose code is wider
  // than its box: these would be cut off when presenting.
  function overflowingSlides() {
    const found = [];
    slides.forEach((slide) => {
      const wasCurrent = slide.classList.contains("current");
      slide.classList.add("current");
      const boxes = [slide, ...slide.querySelectorAll("pre, table")];
      const tooBig = boxes.some(
        (box) => box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1,
      );
      const tableTooWide = [...slide.querySelectorAll("table")].some(
        (table) => table.getBoundingClientRect().right > slide.getBoundingClientRect().right,
      );
      if (tooBig || tableTooWide) found.push(Number(slide.dataset.number));
      slide.classList.toggle("current", wasCurrent);
    });
    return found;
  }

  function selfTest() {
    const report = { slides: slides.length, overflowing: overflowingSlides() };
    report.visibleAtStart = visibleSlides();
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    report.visibleAfterKey = visibleSlides();
    report.hashAfterKey = location.hash;
    document.body.dispatchEvent(
      new MouseEvent("click", { bubbles: true, clientX: innerWidth - 10, clientY: 10 }),
    );
    report.visibleAfterClick = visibleSlides();
    root.dataset.selftest = JSON.stringify(report);
  }

  // --- Start ------------------------------------------------------------------------------

  body.classList.toggle("presenter", isPresenter);
  fit();
  show(slideInAddress(), false);
  if (params.has("selftest")) selfTest();
})();
