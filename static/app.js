// Stratus Console: the little behaviour htmx does not cover. No inline
// scripts anywhere (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Times arrive in UTC; show them in the user's locale, UTC stays on hover.
  const formats = {
    full: new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }),
    date: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }),
    time: new Intl.DateTimeFormat(undefined, { timeStyle: "short" }),
  };
  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      const format = formats[el.dataset.format] || formats.full;
      if (!isNaN(when)) el.textContent = format.format(when);
    });
  }

  // Menus built on <details>: Escape closes and returns focus, a click
  // elsewhere closes.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    // Escape in an inline rename cancels it (the Cancel link restores the row).
    const rename = event.target.closest && event.target.closest("form.rename-form");
    if (rename) {
      event.preventDefault();
      rename.querySelector("a.cancel").click();
      return;
    }
    const open = document.activeElement && document.activeElement.closest("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    localizeTimes(event.target);
    // After an inline edit, focus goes back to the name it edited.
    const row = event.target.closest && event.target.closest("tr");
    if (row && !row.querySelector("form.rename-form") && event.detail.requestConfig
        && /\/name(\/edit)?$/.test(event.detail.requestConfig.path || "")) {
      const name = row.querySelector("a.rename");
      if (name) name.focus();
    }
  });
})();
