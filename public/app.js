// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add('js');

// Choosing a security suggests its port, unless the administrator typed a port of their own.
document.addEventListener('change', (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.dataset.portField) return;
  const port = document.getElementById(select.dataset.portField);
  if (!port) return;
  const suggested = [...select.options].map((o) => o.dataset.port);
  const chosen = select.selectedOptions[0]?.dataset.port;
  if (chosen && (port.value.trim() === '' || suggested.includes(port.value.trim()))) port.value = chosen;
});

// Port, security and authentication that don't go together are explained as they are chosen (the server applies the
// same rules, mismatchesOf in src/smtp-servers/validation.ts, and asks for the confirmation when saving).
function showCombination(form) {
  const block = form.querySelector('[data-combination]');
  const security = form.querySelector('#security');
  const port = form.querySelector('#port');
  if (!block || !security || !port) return;
  const p = Number(port.value.trim());
  // A password or an OAuth2 token: either would cross the network in clear.
  const password = ['password', 'oauth2-microsoft', 'oauth2-google'].includes(form.querySelector('input[name="authentication"]:checked')?.value);
  const found = {
    tlsOnPlainPort: security.value === 'tls' && (p === 587 || p === 25),
    plainOnTlsPort: security.value !== 'tls' && p === 465,
    passwordInClear: security.value === 'none' && password,
  };
  for (const item of block.querySelectorAll('[data-mismatch]')) item.hidden = !found[item.dataset.mismatch];
  block.hidden = !Object.values(found).some(Boolean);
}
for (const type of ['change', 'input']) {
  document.addEventListener(type, (event) => {
    const form = event.target instanceof Element ? event.target.closest('form') : null;
    if (form?.querySelector('[data-combination]')) showCombination(form);
  });
}

// Only the chosen authentication's fields are shown; without JavaScript every group is there, each under its legend,
// and the server ignores the groups of the other modes.
function showAuthGroups(form) {
  const chosen = form.querySelector('input[name="authentication"]:checked')?.value ?? '';
  for (const group of form.querySelectorAll('[data-auth-group]')) group.hidden = group.dataset.authGroup !== chosen;
  for (const hint of form.querySelectorAll('[data-no-js-only]')) hint.hidden = true;
}
function showAllAuthGroups(root) {
  for (const form of root.querySelectorAll('form')) if (form.querySelector('[data-auth-group]')) showAuthGroups(form);
}
document.addEventListener('change', (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.name === 'authentication' && input.form) showAuthGroups(input.form);
});
showAllAuthGroups(document);
document.addEventListener('htmx:load', (event) => showAllAuthGroups(event.target instanceof Element ? (event.target.closest('form') ?? event.target).parentElement ?? document : document));

// After htmx swaps a form with errors, take the keyboard to the summary like a page load would. The summary is looked
// up in the document, not in the swap's target: an outerHTML swap hands over the old, detached form, whose summary
// (from an earlier failed submit) can no longer take focus.
document.addEventListener('htmx:afterSettle', (event) => {
  if (event.detail.xhr?.status !== 422) return;
  const summary = document.getElementById('error-summary');
  if (!summary) return;
  summary.scrollIntoView({ block: 'start' });
  summary.focus({ preventScroll: true });
});

// A refused htmx request (403, 413, 500…) must not fail silently: show the server's page instead.
document.addEventListener('htmx:responseError', (event) => {
  const xhr = event.detail.xhr;
  if (xhr && xhr.responseText && /<html/i.test(xhr.responseText)) {
    document.open();
    document.write(xhr.responseText);
    document.close();
  }
});

// A live length hint under new-password fields; the server checks the real rules (length, common passwords).
document.addEventListener('input', (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.passwordMeter) return;
  const meter = document.getElementById(input.dataset.passwordMeter);
  if (!meter) return;
  const length = [...input.value].length;
  const min = Number(meter.dataset.min) || 12;
  if (length === 0) meter.textContent = '';
  else if (length < min) meter.textContent = (meter.dataset.short || '').replace('{n}', String(min - length));
  else meter.textContent = length >= min + 6 ? meter.dataset.good || '' : meter.dataset.ok || '';
});

// Back or Forward after a live search: htmx restores the rows, the search form must say the query of that URL too.
// After a sort or a page, its hidden fields follow the new URL (not the field being typed in).
function syncListForm(keepFocused) {
  const form = document.querySelector('form.search');
  if (!form) return;
  const params = new URLSearchParams(location.search);
  for (const field of form.elements) {
    if (!field.name || !(field instanceof HTMLInputElement || field instanceof HTMLSelectElement)) continue;
    if (keepFocused && field === document.activeElement) continue;
    field.value = params.get(field.name) ?? field.dataset.default ?? '';
  }
}
document.addEventListener('htmx:historyRestore', () => syncListForm(false));
window.addEventListener('popstate', () => setTimeout(() => syncListForm(false)));
document.addEventListener('htmx:pushedIntoHistory', () => syncListForm(true));

// A filter left at « Indifférent » stays out of the URL, as the links the server writes leave it out.
document.addEventListener('htmx:configRequest', (event) => {
  const { verb, formData } = event.detail;
  if (verb !== 'get' || !formData) return;
  for (const name of [...new Set(formData.keys())]) if (formData.getAll(name).every((value) => value === '') && name !== 'q') formData.delete(name);
});

// « Insérer le logo »: writes the logo's placeholder where the cursor is; the input event refreshes the preview.
for (const button of document.querySelectorAll('[data-insert-logo]')) button.hidden = false;
document.addEventListener('htmx:load', (event) => {
  for (const button of event.detail.elt.querySelectorAll?.('[data-insert-logo]') ?? []) button.hidden = false;
});
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-insert-logo]') : null;
  if (!button) return;
  const field = document.getElementById(button.dataset.insertInto);
  if (!(field instanceof HTMLTextAreaElement)) return;
  const start = field.selectionStart ?? field.value.length;
  const end = field.selectionEnd ?? start;
  field.setRangeText(button.dataset.insertLogo, start, end, 'end');
  field.focus();
  field.dispatchEvent(new Event('input', { bubbles: true }));
});

// The language link carries the page's address back; once htmx has moved the address (a search, a filter, a page of
// the journal), it carries the new one, as a full page load would have written it.
function followAddressInLanguageLink() {
  for (const link of document.querySelectorAll('a[href^="/language?"]')) {
    const url = new URL(link.href, location.href);
    url.searchParams.set('next', location.pathname + location.search);
    link.href = url.pathname + url.search;
  }
}
document.addEventListener('htmx:pushedIntoHistory', followAddressInLanguageLink);
document.addEventListener('htmx:replacedInHistory', followAddressInLanguageLink);
document.addEventListener('htmx:historyRestore', followAddressInLanguageLink);
