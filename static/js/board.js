/* Day board: keeps the "now" line on the clock, and on request refreshes the board every
 * minute in place (no page reload), so a tablet left on the board stays current. The board
 * only reads; every change happens on a session's own page through the API. */
(function () {
  "use strict";

  const REFRESH_MS = 60 * 1000;
  const PREFERENCE = "chairside.board.autoRefresh";
  const region = document.getElementById("board-region");
  const toggle = document.getElementById("auto-refresh");
  const status = document.getElementById("refresh-status");
  if (!region) return;

  function localTime(date, zone) {
    return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone }).format(date);
  }

  function placeNowLine() {
    const board = region.querySelector("[data-testid=board]");
    const line = region.querySelector("[data-testid=now-line]");
    if (!board || !line) return;
    const opens = Date.parse(board.dataset.opens);
    const closes = Date.parse(board.dataset.closes);
    const now = Date.now();
    line.hidden = now < opens || now >= closes;
    if (line.hidden) return;
    line.style.left = ((now - opens) / (closes - opens) * 100).toFixed(3) + "%";
    const label = line.querySelector(".now-label");
    if (label) label.textContent = "Now " + localTime(new Date(now), board.dataset.zone);
  }

  async function refresh() {
    if (!toggle.checked || document.hidden) return;
    // Never pull the board from under someone moving through it with the keyboard.
    if (region.contains(document.activeElement)) return;
    let response;
    try {
      response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (error) {
      Chairside.announce(status, "The board could not be refreshed: the server could not be reached.", "warn");
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("board-region");
    if (!response.ok || !fresh) {
      Chairside.announce(status, "The board could not be refreshed; reload the page (you may need to log in again).", "warn");
      return;
    }
    region.replaceChildren(...fresh.childNodes);
    placeNowLine();
    const zone = region.dataset.zone;
    Chairside.announce(status, "Updated " + localTime(new Date(), zone) + " " + zone, "");
  }

  placeNowLine();
  window.setInterval(placeNowLine, 30 * 1000);
  if (toggle) {
    toggle.closest("label").hidden = false;
    toggle.checked = window.localStorage.getItem(PREFERENCE) === "on";
    toggle.addEventListener("change", function () {
      window.localStorage.setItem(PREFERENCE, toggle.checked ? "on" : "off");
      if (toggle.checked) refresh();
    });
    window.setInterval(refresh, REFRESH_MS);
  }
})();
