// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: the pull command to the clipboard.
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = button.dataset.copy;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (err) {
        const code = button.previousElementSibling;
        if (code) window.getSelection().selectAllChildren(code);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }

  // Forms with data-confirm: ask here instead of the server's confirmation page.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const confirm = form.querySelector("input[name=confirm]");
      if (confirm) confirm.value = "yes";
    });
  }
});
