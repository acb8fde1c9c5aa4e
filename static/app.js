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
  // "day": a date without its year when it is this year's (dense tables).
  const thisYear = new Date().getFullYear();
  const dayOfThisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  function dayFormat(when) {
    return when.getFullYear() === thisYear ? dayOfThisYear : formats.date;
  }
  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      // A table of dense rows says its format once (data-times).
      const times = el.dataset.format || (el.closest("[data-times]") || el).dataset.times;
      const format = times === "day" ? dayFormat(when) : formats[times] || formats.full;
      if (isNaN(when)) return;
      // Dense tables send the UTC text only once, as the content.
      if (!el.title) el.title = el.textContent;
      el.textContent = format.format(when);
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

  // Menus whose items are loaded when they first open (a page of rows does
  // not carry a menu for each): the panel marked data-lazy holds a link,
  // which a browser without JavaScript follows; opened, htmx fetches it and
  // the answer takes the panel's place.
  document.addEventListener("toggle", function (event) {
    const menu = event.target;
    if (!menu.matches || !menu.matches("details.menu") || !menu.open) return;
    place(menu);
    const panel = menu.querySelector(":scope > [data-lazy]");
    const link = panel && panel.querySelector("a[href]");
    if (!link) return;
    panel.removeAttribute("data-lazy");
    htmx.ajax("GET", link.getAttribute("href"), { source: panel, target: panel, swap: "outerHTML" }).then(function () {
      place(menu);
      // An arrow key pressed while it loaded moves to the first item now.
      if (menu.dataset.focusFirst) {
        delete menu.dataset.focusFirst;
        const first = menu.querySelector("[role=menuitem], [role=menuitemradio]");
        if (first && menu.open) first.focus();
      }
    });
  }, true);

  // An open menu that would run past the bottom of the window opens upward
  // when there is room above its button (the last rows of a list), so it
  // is seen without scrolling.
  function place(menu) {
    const list = menu.querySelector(":scope > .menu-list");
    if (!list) return;
    menu.classList.remove("menu-up");
    const past = list.getBoundingClientRect().bottom > window.innerHeight;
    const topbar = document.querySelector(".topbar");
    const above = menu.getBoundingClientRect().top - (topbar ? topbar.offsetHeight : 0);
    if (past && above > list.offsetHeight + 8) menu.classList.add("menu-up");
  }

  // A row's menus arrive as links (a page of rows does not carry a menu for
  // each; without JavaScript the link leads to a page that offers the same).
  // Used, the link (its class one of MENU_LINKS) becomes its menu: a <details> of the
  // kind its class names, its summary the link's content and attributes,
  // opened at once, and its panel the link, which the handler above loads.
  const MENU_LINKS = { "label-button": "label-picker", "actions-button": "actions-menu" };
  const MENU_SELECTOR = Object.keys(MENU_LINKS).map(function (name) { return "a." + name; }).join(", ");
  function menuFor(link) {
    const menu = document.createElement("details");
    const kind = Object.keys(MENU_LINKS).find(function (name) { return link.classList.contains(name); });
    menu.className = "menu " + MENU_LINKS[kind];
    const summary = document.createElement("summary");
    Array.from(link.attributes).forEach(function (attr) {
      if (attr.name !== "href") summary.setAttribute(attr.name, attr.value);
    });
    if (!summary.hasAttribute("aria-label") && link.title) summary.setAttribute("aria-label", link.title);
    summary.append.apply(summary, Array.from(link.childNodes));
    const panel = document.createElement("div");
    panel.className = "menu-list";
    panel.dataset.lazy = "";
    const fallback = document.createElement("a");
    fallback.href = link.getAttribute("href");
    fallback.textContent = "Loading…";
    panel.append(fallback);
    menu.append(summary, panel);
    link.replaceWith(menu);
    return menu;
  }
  function plainClick(event) {
    return event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
  }
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest(MENU_SELECTOR);
    if (!link || !plainClick(event)) return;
    event.preventDefault();
    const menu = menuFor(link);
    closeMenus(menu);
    menu.open = true;
    menu.querySelector("summary").focus();
  });

  // A row that refreshes itself (a server still changing) skips its refresh
  // while its menu is open: the new row would close the menu under the
  // pointer. It refreshes again at the next tick after the menu closes.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const row = event.detail.elt;
    if (row.matches && row.matches("tr[hx-trigger^='every']") && row.querySelector("details.menu[open]")) {
      event.preventDefault();
    }
  });

  // What the last action said goes when the next form is sent: its answer
  // brings its own message, and an old "Created …" must not stand above a
  // new error.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    const sent = elt && (elt.tagName === "FORM" || elt.form);
    const flash = sent && !elt.closest("form.filters") && document.getElementById("flash");
    if (flash) flash.replaceChildren();
    const inDialog = sent && elt.closest("dialog");
    const said = inDialog && inDialog.querySelector(".dialog-alert");
    if (said) said.remove();
  });

  // An error that belongs to no field (the image went to the recycle bin
  // meanwhile, the server was terminated) arrives in the flash area. When
  // the form that drew it is in an open dialog, the flash is behind the
  // dimmed page: the message moves into the dialog, under its title.
  document.addEventListener("htmx:afterSwap", function (event) {
    const flash = event.detail.target;
    if (!flash || flash.id !== "flash" || !flash.firstElementChild) return;
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    const dialog = elt && elt.closest && elt.closest("#modal dialog[open]");
    const head = dialog && dialog.querySelector(".modal-head");
    if (!head) return;
    const alert = document.createElement("div");
    alert.className = "dialog-alert";
    alert.replaceChildren.apply(alert, Array.from(flash.childNodes));
    head.after(alert);
  });

  // An action taken in a row (a label chosen, Protect from its menu) swaps the
  // row for a new one, and what had focus goes with it: focus moves to the
  // same cell of the new row, so a keyboard user keeps their place. A row that
  // left the list (Restore, Delete) hands focus to the row after it, or
  // before it.
  function placeOf(row) {
    const id = function (el) { return el && el.id ? el.id : null; };
    return { row: row.id, next: id(row.nextElementSibling), previous: id(row.previousElementSibling) };
  }
  function rowAt(place) {
    return place && (document.getElementById(place.row) || (place.next && document.getElementById(place.next))
      || (place.previous && document.getElementById(place.previous)));
  }
  let focusCell = null;
  document.addEventListener("htmx:beforeRequest", function () {
    const active = document.activeElement;
    const cell = active && active.closest && active.closest("tr[id] > td");
    focusCell = cell ? Object.assign(placeOf(cell.parentElement), { index: cell.cellIndex }) : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    const lost = !document.activeElement || document.activeElement === document.body;
    const row = lost && rowAt(focusCell);
    const cell = row && row.id === focusCell.row && row.cells[focusCell.index];
    const target = (cell && cell.querySelector("a[href], button:not([disabled]), input:not([type=hidden])"))
      || (row && row.querySelector(".actions-button, .launch-button"));
    focusCell = null;
    if (target) target.focus();
  });
  // The last row of a list's page left it: the page before it, if there is
  // one, else the list again, which says it is empty. (The server never
  // answers a table without rows.)
  let refilling = false;
  document.addEventListener("htmx:afterSettle", function () {
    const list = document.getElementById("image-list");
    const rows = list && list.querySelector("table tbody");
    if (refilling || !rows || rows.querySelector("tr")) return;
    const previous = list.querySelector("a[rel=prev]");
    const url = previous ? previous.getAttribute("href") : window.location.pathname + window.location.search;
    if (previous) history.replaceState(history.state, "", url);
    refilling = true;
    htmx.ajax("GET", url, { target: "#image-list", swap: "outerHTML" }).finally(function () {
      refilling = false;
      if (!document.activeElement || document.activeElement === document.body) document.getElementById("main").focus();
    });
  });

  // A rename link opens its form in the row (the tbody names the target).
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a.rename");
    if (!link || !plainClick(event)) return;
    event.preventDefault();
    htmx.ajax("GET", link.getAttribute("href"), { source: link, target: link.closest("tr"), swap: "outerHTML" });
  });

  // Truncated cells show their whole text on hover (an images table's text
  // cells are clipped by their place in the row: app.css).
  document.addEventListener("mouseover", function (event) {
    const clip = event.target.closest && event.target.closest(".clip, .grid.images td");
    if (clip && !clip.title && clip.scrollWidth > clip.clientWidth) clip.title = clip.textContent;
  });

  // Menus: arrow keys move between the items of an open menu.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const menu = document.activeElement && document.activeElement.closest("details.menu[open]");
    if (!menu) return;
    const items = Array.from(menu.querySelectorAll("[role=menuitem], [role=menuitemradio]"));
    if (!items.length) {
      // Still loading (see above).
      menu.dataset.focusFirst = "1";
      event.preventDefault();
      return;
    }
    event.preventDefault();
    const at = items.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? (at + 1) % items.length : (at - 1 + items.length) % items.length;
    items[at === -1 ? 0 : next].focus();
  });

  // Dialogs arrive in #modal through htmx. They open as modals over a dimmed
  // page with focus inside, close on Escape, Cancel or when their action is
  // done (the server sends the "close-dialog" event), and give focus back
  // to the row that opened them, or to the control that did if it has an id
  // (either may have been swapped for a new one meanwhile).
  let openerRow = null;
  let openerId = null;
  function focusables(root) {
    return Array.from(root.querySelectorAll(
      "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled])"
    )).filter(function (el) { return el.offsetParent !== null && el.tabIndex >= 0; });
  }
  // A form that came back with problems (a dialog, a page, a fragment):
  // focus the first of them; false when there is none to focus.
  function focusFirstProblem(root) {
    if (!root || !root.querySelectorAll) return false;
    // The first one shown: a problem on a hidden tab waits for its tab.
    const invalid = Array.from(root.querySelectorAll("[aria-invalid=true]:not([disabled])"))
      .find(function (el) { return el.offsetParent !== null; });
    if (!invalid) return false;
    invalid.focus();
    return true;
  }
  function openDialog(modal) {
    const dialog = modal.querySelector("dialog");
    if (!dialog) return;
    closeMenus(null);
    if (!dialog.open) dialog.showModal();
    if (focusFirstProblem(dialog)) return;
    // Else where it asks to start.
    const first = dialog.querySelector("[autofocus]:not([disabled])") || focusables(dialog)[0];
    if (first) first.focus();
  }
  function restoreFocus() {
    const row = rowAt(openerRow);
    const target = (row && (row.querySelector(".actions-button, .launch-button") || row.querySelector("a.rename")))
      || (openerId && document.getElementById(openerId))
      || document.getElementById("main");
    if (target) target.focus();
    openerRow = null;
    openerId = null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    const target = event.detail.target;
    if (target && target.id === "modal" && !event.target.closest("dialog")) {
      const row = event.target.closest("tr[id]");
      openerRow = row ? placeOf(row) : null;
      openerId = event.target.id || null;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "modal") openDialog(event.detail.target);
  });
  document.addEventListener("close-dialog", function () {
    const dialog = document.querySelector("#modal dialog[open]");
    if (dialog) dialog.close();
  });
  // "close" does not bubble: listen while it travels down.
  document.addEventListener("close", function (event) {
    const dialog = event.target;
    const modal = dialog && dialog.closest && dialog.closest("#modal");
    if (!modal) return;
    modal.replaceChildren();
    requestAnimationFrame(restoreFocus);
  }, true);
  document.addEventListener("click", function (event) {
    const close = event.target.closest("#modal dialog [data-close]");
    if (!close) return;
    event.preventDefault();
    close.closest("dialog").close();
  });
  // Tab and Shift+Tab wrap around inside an open dialog.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    const dialog = document.querySelector("#modal dialog[open]");
    if (!dialog) return;
    const items = focusables(dialog);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // Tabs (the launch dialog) are submit buttons: a click, Enter or Space
  // asks the server, which checks the tab being left (PRODUCT 3.4) and
  // answers the dialog on the tab chosen, or on the one left with its
  // problems. The arrow keys, Home and End move the focus along the strip
  // without leaving the tab shown (the WAI-ARIA tabs pattern with manual
  // activation, as a panel costs a round trip).
  document.addEventListener("keydown", function (event) {
    const tab = event.target.closest && event.target.closest("[role=tablist] [role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft" && event.key !== "Home" && event.key !== "End")) return;
    const tabs = Array.from(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    const at = tabs.indexOf(tab);
    const to = { ArrowRight: (at + 1) % tabs.length, ArrowLeft: (at - 1 + tabs.length) % tabs.length, Home: 0, End: tabs.length - 1 }[event.key];
    event.preventDefault();
    tabs.forEach(function (t, i) { t.tabIndex = i === to ? 0 : -1; });
    tabs[to].focus();
  });

  // Fields shown only for some choices: data-when="NAME=VALUE[,VALUE…]".
  function applyWhen(root) {
    root.querySelectorAll("[data-when]").forEach(function (el) {
      const [name, values] = el.dataset.when.split("=");
      const form = el.closest("form");
      if (!form) return;
      const chosen = form.querySelector("select[name=" + name + "]") || form.querySelector("input[name=" + name + "]:checked");
      el.hidden = !(chosen && values.split(",").includes(chosen.value));
    });
  }
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form");
    if (form) applyWhen(form);
  });

  // Bulk selection (My images): the header's box ticks every row's box of
  // its form, and the bar counts the boxes ticked.
  function countTicked() {
    const count = document.querySelector("#bulk .bulk-count");
    if (!count) return;
    const ticked = document.querySelectorAll("input[name=ids][form=bulk]:checked").length;
    count.textContent = ticked ? "(" + ticked + ")" : "";
  }
  document.addEventListener("change", function (event) {
    const all = event.target.closest && event.target.closest("input[data-select-all]");
    if (all) {
      document.querySelectorAll("input[name=ids][form=" + all.dataset.selectAll + "]").forEach(function (box) {
        box.checked = all.checked;
      });
    }
    if (all || event.target.name === "ids") countTicked();
  });
  document.addEventListener("htmx:afterSettle", countTicked);
  // The list comes back after a bulk action: focus returns to the button
  // that was pressed, in the new bar.
  let bulkAction = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.id !== "bulk") return;
    const submit = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    const pressed = (submit && submit.submitter) || document.activeElement;
    bulkAction = pressed && pressed.name === "action" ? pressed.value : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!bulkAction) return;
    const button = document.querySelector("#bulk button[name=action][value=" + bulkAction + "]");
    bulkAction = null;
    if (button) button.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    applyWhen(document);
    countTicked();
    // A page served again with problems, or a dialog as a page.
    focusFirstProblem(document.querySelector("main"));
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    applyWhen(document);
    localizeTimes(event.target);
    // A dialog's form answered in place (Next, Previous) took the focused
    // button with it: focus goes to the first problem, else the tab shown.
    const dialog = document.querySelector("#modal dialog[open]");
    if (dialog && !dialog.contains(document.activeElement) && !focusFirstProblem(dialog)) {
      const shown = dialog.querySelector("[role=tab][aria-selected=true]") || focusables(dialog)[0];
      if (shown) shown.focus();
    }
    focusFirstProblem(event.target);
    // After an inline edit, focus goes back to the name it edited.
    const row = event.target.closest && event.target.closest("tr");
    if (row && !row.querySelector("form.rename-form") && event.detail.requestConfig
        && /\/name(\/edit)?$/.test(event.detail.requestConfig.path || "")) {
      const name = row.querySelector("a.rename");
      if (name) name.focus();
    }
  });

  // A new key pair's private key arrives once, in the answer that created
  // it: save it at once. The link stays for a second try.
  function saveOfferedKeys() {
    document.querySelectorAll("a[download][data-auto-download]").forEach(function (link) {
      link.removeAttribute("data-auto-download");
      link.click();
    });
  }
  document.addEventListener("DOMContentLoaded", saveOfferedKeys);
  document.addEventListener("htmx:afterSettle", saveOfferedKeys);
})();
