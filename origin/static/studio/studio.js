// Image studio: browse images, set options, preview the exact signed URL, and mint a link.
// No framework, no build step; loaded with `defer` from /studio/static/studio.js (CSP: no inline code).
"use strict";

(function () {
  const PREVIEW_LIFETIME = 300; // seconds: a preview URL only has to live while it is on screen
  const DEBOUNCE_MS = 300;
  const LIFETIMES = [
    [300, "5 minutes"],
    [3600, "1 hour"],
    [86400, "1 day"],
    [604800, "7 days"],
    [2592000, "30 days"],
  ];
  const DEFAULT_LIFETIME = 3600;

  const $ = (id) => document.getElementById(id);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  const el = {
    form: $("controls"),
    breadcrumb: $("breadcrumb"),
    browser: $("browser"),
    browserStatus: $("browser-status"),
    folders: $("folder-list"),
    images: $("image-list"),
    current: $("current-path"),
    frame: $("preview-frame"),
    img: $("preview-image"),
    placeholder: $("preview-placeholder"),
    status: $("preview-status"),
    previewError: $("preview-error"),
    generalErrors: $("general-errors"),
    lifetime: $("link-lifetime"),
    keyField: $("link-key-field"),
    key: $("link-key"),
    unsignedW: $("link-unsigned-w"),
    getLink: $("get-link"),
    linkError: $("link-error"),
    linkResult: $("link-result"),
    linkUrl: $("link-url"),
    openLink: $("open-link"),
    copy: $("copy-link"),
    linkNote: $("link-note"),
    linkStale: $("link-stale"),
    token: $("link-token"),
    watermark: $("p-watermark"),
    bgEnabled: $("p-text-background-enabled"),
    bgColor: $("p-text-background-color"),
    bgOpacity: $("p-text-background-opacity"),
    logout: $("logout"),
    banner: $("session-banner"),
  };

  const state = {
    path: null, // the chosen image
    folder: "/",
    seq: 0, // the latest preview request; older answers are dropped
    timer: null,
    dirty: false, // the controls changed since the latest preview request was sent
    linkParams: null, // JSON of the options the shown link was made from
    maxLifetime: 0, // the server's longest lifetime for "/"
    rules: [], // [{prefix, max_lifetime}], when the server lists them: the cap follows the chosen image
  };

  // ---------------------------------------------------------------- server calls

  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401 || response.status === 403) {
      sessionEnded();
    }
    return { status: response.status, ok: response.ok, data };
  }

  function sessionEnded() {
    el.banner.textContent = "Your studio session has ended (or this page is out of date). Reload the page to log in again.";
    el.banner.hidden = false;
  }

  function describeFailure(result) {
    if (result.data && typeof result.data.error === "string") return result.data.error;
    return "the server answered " + result.status;
  }

  // ---------------------------------------------------------------- options from the server

  async function loadOptions() {
    const result = await api("GET", "/studio/api/options");
    if (!result.ok || !result.data) {
      el.generalErrors.replaceChildren(li("Could not load the studio options: " + describeFailure(result)));
      return;
    }
    const o = result.data;
    fillSelect($("p-format"), o.formats || []);
    fillSelect($("p-text-font-family"), o.fonts || []);
    for (const select of el.form.querySelectorAll("select[data-gravities]")) {
      const values = (o.gravities || []).slice();
      if (select.hasAttribute("data-tile")) values.push("tile");
      fillSelect(select, values);
    }
    state.maxLifetime = Number(o.max_lifetime) || 0;
    state.rules = Array.isArray(o.rules) ? o.rules : [];
    fillLifetimes(lifetimeCap());
    const keys = Array.isArray(o.keys) ? o.keys : [];
    fillSelect(el.key, keys);
    el.keyField.hidden = keys.length < 2;
  }

  // The longest lifetime for the chosen image: its rule's (longest matching prefix), else the server's.
  function lifetimeCap() {
    let best = null;
    for (const rule of state.rules) {
      if (state.path && typeof rule.prefix === "string" && state.path.startsWith(rule.prefix)) {
        if (!best || rule.prefix.length > best.prefix.length) best = rule;
      }
    }
    return best && Number(best.max_lifetime) ? Number(best.max_lifetime) : state.maxLifetime;
  }

  function fillSelect(select, values) {
    const keep = select.value;
    const first = select.options[0]; // the "default" entry with an empty value
    select.replaceChildren(first);
    for (const value of values) select.append(new Option(value, value));
    if (values.includes(keep)) select.value = keep;
  }

  function fillLifetimes(max) {
    const keep = Number(el.lifetime.value) || DEFAULT_LIFETIME;
    el.lifetime.replaceChildren();
    const choices = LIFETIMES.filter(([seconds]) => !max || seconds <= max);
    if (max && !choices.some(([seconds]) => seconds === max) && max > 0) {
      choices.push([max, humanDuration(max) + " (the longest allowed)"]);
    }
    for (const [seconds, label] of choices) el.lifetime.append(new Option(label, String(seconds)));
    // Keep the designer's choice when it is still allowed, else the longest that is.
    const allowed = choices.filter(([seconds]) => seconds <= keep);
    const preferred = choices.find(([seconds]) => seconds === keep) || allowed[allowed.length - 1] || choices[0];
    if (preferred) el.lifetime.value = String(preferred[0]);
  }

  // ---------------------------------------------------------------- folder browser

  async function browse(path, focusAfter) {
    el.browserStatus.textContent = "Loading…";
    const result = await api("GET", "/studio/api/browse?path=" + encodeURIComponent(path));
    if (!result.ok || !result.data) {
      el.browserStatus.textContent = "Could not open " + path + ": " + describeFailure(result);
      return;
    }
    const data = result.data;
    state.folder = data.path;
    renderBreadcrumb(data.path);
    renderFolders(data);
    renderImages(data.images || []);
    renderWatermarks(data.watermarks || []);
    const count = (data.folders || []).length + (data.images || []).length;
    el.browserStatus.textContent = !count
      ? "This folder is empty."
      : data.truncated
        ? "This folder holds more than can be listed: only the first ones are shown."
        : "";
    if (focusAfter) {
      const first = el.browser.querySelector(".folder-list button, .image-list button");
      (first || el.breadcrumb.querySelector("button") || el.browser).focus();
    }
  }

  function segments(path) {
    return path.split("/").filter(Boolean);
  }

  function renderBreadcrumb(path) {
    const parts = segments(path);
    const items = [];
    const crumbs = [["All images", "/"]];
    let prefix = "/";
    for (const part of parts) {
      prefix += part + "/";
      crumbs.push([part, prefix]);
    }
    crumbs.forEach(([label, target], index) => {
      const item = document.createElement("li");
      if (index === crumbs.length - 1) {
        const here = document.createElement("span");
        here.textContent = label;
        here.setAttribute("aria-current", "location");
        item.append(here);
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.dataset.folder = target;
        button.dataset.testid = "crumb";
        item.append(button);
      }
      items.push(item);
    });
    el.breadcrumb.replaceChildren(...items);
  }

  function renderFolders(data) {
    const items = [];
    if (data.parent) {
      items.push(folderButton(data.parent, "Up to " + (segments(data.parent).pop() || "All images"), "up"));
    }
    for (const folder of data.folders || []) {
      items.push(folderButton(folder, segments(folder).pop() || folder, ""));
    }
    el.folders.replaceChildren(...items);
  }

  function folderButton(target, label, extraClass) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = extraClass;
    button.dataset.folder = target;
    button.dataset.testid = extraClass === "up" ? "folder-up" : "folder-item";
    button.textContent = label;
    item.append(button);
    return item;
  }

  function renderImages(images) {
    const items = images.map((image) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.path = image.path;
      button.dataset.testid = "image-item";
      button.setAttribute("aria-pressed", String(image.path === state.path));
      const name = document.createElement("span");
      name.textContent = segments(image.path).pop() || image.path;
      if (image.thumbnail) {  // null where only a public key may sign: the origin cannot mint there
        const thumb = document.createElement("img");
        thumb.alt = "";
        thumb.loading = "lazy";
        thumb.decoding = "async";
        thumb.src = image.thumbnail;
        button.append(thumb);
      }
      button.append(name);
      item.append(button);
      return item;
    });
    el.images.replaceChildren(...items);
  }

  function renderWatermarks(marks) {
    const keep = el.watermark.value;
    fillSelect(el.watermark, marks);
    if (keep && !marks.includes(keep)) {
      // The chosen mark lives in another folder's listing: keep it selectable.
      el.watermark.append(new Option(keep, keep));
      el.watermark.value = keep;
    }
  }

  function chooseImage(path) {
    state.path = path;
    for (const button of el.images.querySelectorAll("button[data-path]")) {
      button.setAttribute("aria-pressed", String(button.dataset.path === path));
    }
    el.current.textContent = path;
    el.getLink.disabled = false;
    if (state.rules.length) fillLifetimes(lifetimeCap());
    hideLink();
    refreshNow();
  }

  el.browser.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("button") : null;
    if (!target) return;
    // A click from the keyboard (Enter/Space) has detail 0: then move focus into the new listing.
    const byKeyboard = event.detail === 0;
    if (target.dataset.folder) browse(target.dataset.folder, byKeyboard);
    else if (target.dataset.path) chooseImage(target.dataset.path);
  });

  // ---------------------------------------------------------------- options → parameters

  function controls() {
    return Array.from(el.form.querySelectorAll("[data-param]"));
  }

  function valueOf(control) {
    if (control.disabled) return undefined;
    if (control.type === "color") {
      if (control.dataset.set !== "true") return undefined;
      return control.value.replace(/^#/, "").toUpperCase();
    }
    let value = control.value.trim();
    if (value === "") return undefined;
    if (control.dataset.unit) value += control.dataset.unit;
    if (control.dataset.kind === "int" && /^\d{1,9}$/.test(value)) return Number(value);
    return value;
  }

  // Everything the user set, by parameter name. A text or watermark detail is sent only with its text
  // or watermark (alone it would do nothing).
  function chosenParams() {
    const params = {};
    for (const control of controls()) {
      const value = valueOf(control);
      if (value !== undefined) params[control.dataset.param] = value;
    }
    for (const name of Object.keys(params)) {
      const group = el.form.querySelector('[data-param="' + name + '"]').dataset.group;
      if (group && !(group in params)) delete params[name];
    }
    return params;
  }

  function signBody(lifetime) {
    const secureParams = chosenParams();
    const insecureParams = {};
    if (el.unsignedW.checked && "w" in secureParams) {
      insecureParams.w = secureParams.w;
      delete secureParams.w;
    }
    const body = { path: state.path, lifetime, secureParams, insecureParams };
    if (el.key.value) body.kid = el.key.value;
    return body;
  }

  // ---------------------------------------------------------------- errors next to the controls

  function clearErrors() {
    for (const control of controls()) {
      control.removeAttribute("aria-invalid");
      const slot = errorSlot(control);
      if (slot) slot.textContent = "";
    }
    el.generalErrors.replaceChildren();
  }

  function errorSlot(control) {
    return $("err-" + control.id.replace(/^p-/, ""));
  }

  function showParamErrors(problems) {
    clearErrors();
    const loose = [];
    for (const [name, why] of Object.entries(problems || {})) {
      const control = el.form.querySelector('[data-param="' + cssEscape(name) + '"]');
      const slot = control && errorSlot(control);
      if (slot) {
        control.setAttribute("aria-invalid", "true");
        slot.textContent = why;
      } else {
        loose.push(li(name + ": " + why));
      }
    }
    el.generalErrors.replaceChildren(...loose);
    return loose.map((item) => item.textContent);
  }

  function invalidMessage(loose) {
    return loose.length ? "Not valid: " + loose.join("; ") + "." : "Some options are not valid: see the messages beside them.";
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, "\\$&");
  }

  function li(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  // ---------------------------------------------------------------- the live preview

  function setPreview(stateName) {
    el.frame.dataset.state = stateName;
    el.frame.setAttribute("aria-busy", String(stateName === "pending" || stateName === "loading"));
  }

  function schedule() {
    markLinkStale();
    if (!state.path) return;
    state.dirty = true;
    setPreview("pending");
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  function refreshNow() {
    clearTimeout(state.timer);
    refresh();
  }

  async function refresh() {
    if (!state.path) return;
    const seq = ++state.seq;
    state.dirty = false;
    setPreview("loading");
    el.status.textContent = "Rendering…";
    let result;
    try {
      result = await api("POST", "/studio/api/sign", signBody(Math.min(PREVIEW_LIFETIME, lifetimeCap() || PREVIEW_LIFETIME)));
    } catch (error) {
      if (seq === state.seq) previewFailed("Could not reach the server (" + error.message + ").");
      return;
    }
    if (seq !== state.seq) return;
    if (result.status === 400 && result.data && result.data.parameters) {
      const loose = showParamErrors(result.data.parameters);
      previewFailed(invalidMessage(loose));
      return;
    }
    if (!result.ok || !result.data || !result.data.url) {
      previewFailed("Could not sign the preview: " + describeFailure(result));
      return;
    }
    clearErrors();
    load(result.data.url, seq);
  }

  function load(url, seq) {
    // Load off screen, then swap: the previous render stays visible (dimmed) until the new one is ready.
    const loader = new Image();
    loader.decoding = "async";
    loader.onload = () => {
      if (seq !== state.seq) return;
      el.img.src = url;
      el.img.hidden = false;
      el.img.alt = "Preview of " + state.path;
      el.placeholder.hidden = true;
      el.previewError.textContent = "";
      const size = loader.naturalWidth + " × " + loader.naturalHeight + " px";
      const bytes = transferSize(loader.src);
      el.status.textContent = "Rendered " + size + (bytes ? " · " + bytes : "");
      el.status.dataset.width = String(loader.naturalWidth);
      el.status.dataset.height = String(loader.naturalHeight);
      // "ready" only when nothing newer is waiting for its debounce.
      setPreview(state.dirty ? "pending" : "ready");
    };
    loader.onerror = () => {
      if (seq !== state.seq) return;
      explainImageError(url, seq);
    };
    loader.src = url;
  }

  async function explainImageError(url, seq) {
    // <img> hides why a URL failed; ask again to read the JSON error body.
    let message = "The origin refused this image.";
    try {
      const response = await fetch(url, { credentials: "omit", cache: "no-store" });
      const body = await response.json();
      if (seq !== state.seq) return;
      if (body && body.parameters) showParamErrors(body.parameters);
      message = "The origin answered " + response.status + ": " + (body && body.error ? body.error : "an error");
    } catch (_) {
      // not JSON: keep the general message
    }
    if (seq === state.seq) previewFailed(message);
  }

  function previewFailed(message) {
    el.previewError.textContent = message;
    el.status.textContent = "";
    delete el.status.dataset.width;
    delete el.status.dataset.height;
    setPreview(state.dirty ? "pending" : "error");
  }

  function transferSize(url) {
    if (!window.performance || !performance.getEntriesByName) return "";
    const entries = performance.getEntriesByName(url);
    const entry = entries[entries.length - 1];
    const size = entry && (entry.encodedBodySize || entry.transferSize);
    if (!size) return "";
    return size >= 1024 * 1024 ? (size / 1048576).toFixed(1) + " MB" : (size / 1024).toFixed(1) + " kB";
  }

  // ---------------------------------------------------------------- control events

  function showColor(control) {
    const output = $(control.id + "-value");
    const reset = el.form.querySelector('[data-reset-color="' + control.id + '"]');
    if (output) output.textContent = control.dataset.set === "true" ? control.value.slice(1).toUpperCase() : "default";
    if (reset) reset.hidden = control.dataset.set !== "true";
  }

  el.form.addEventListener("input", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "color" && target !== el.bgColor) {
      target.dataset.set = "true";
      showColor(target);
    }
    if (target === el.bgEnabled) {
      el.bgColor.disabled = el.bgOpacity.disabled = !el.bgEnabled.checked;
    }
    schedule();
  });
  // Selects and checkboxes fire `input` too; `change` covers older engines and pickers that commit late.
  el.form.addEventListener("change", (event) => {
    if (event.target === el.bgEnabled) el.bgColor.disabled = el.bgOpacity.disabled = !el.bgEnabled.checked;
    schedule();
  });

  el.form.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-reset-color]") : null;
    if (!target) return;
    const control = $(target.dataset.resetColor);
    control.dataset.set = "false";
    control.value = control.defaultValue;
    showColor(control);
    control.focus();
    schedule();
  });

  el.form.addEventListener("reset", () => {
    // After the browser has put the defaults back.
    setTimeout(() => {
      for (const control of el.form.querySelectorAll('input[type="color"]')) {
        if (control !== el.bgColor) {
          control.dataset.set = "false";
          showColor(control);
        }
      }
      el.bgColor.disabled = el.bgOpacity.disabled = true;
      clearErrors();
      schedule();
    }, 0);
  });

  el.form.addEventListener("submit", (event) => event.preventDefault());
  el.unsignedW.addEventListener("change", schedule);
  el.lifetime.addEventListener("change", markLinkStale);
  el.key.addEventListener("change", schedule);

  // ---------------------------------------------------------------- the signed link

  function hideLink() {
    el.linkResult.hidden = true;
    el.linkError.textContent = "";
    state.linkParams = null;
  }

  function currentLinkKey() {
    return JSON.stringify([state.path, el.lifetime.value, signBody(0)]);
  }

  function markLinkStale() {
    if (state.linkParams === null) return;
    const stale = state.linkParams !== currentLinkKey();
    el.linkStale.hidden = !stale;
    el.linkResult.classList.toggle("stale", stale);
  }

  el.getLink.addEventListener("click", async () => {
    if (!state.path) return;
    el.getLink.disabled = true;
    el.linkError.textContent = "";
    const lifetime = Number(el.lifetime.value);
    const body = signBody(lifetime);
    const key = currentLinkKey();
    try {
      const result = await api("POST", "/studio/api/sign", body);
      if (result.status === 400 && result.data && result.data.parameters) {
        const loose = showParamErrors(result.data.parameters);
        el.linkError.textContent = invalidMessage(loose);
        return;
      }
      if (!result.ok || !result.data || !result.data.url) {
        el.linkError.textContent = "Could not make the link: " + describeFailure(result);
        return;
      }
      showLink(result.data, body, key);
      el.linkResult.scrollIntoView({ block: "nearest" });
    } catch (error) {
      el.linkError.textContent = "Could not reach the server (" + error.message + ").";
    } finally {
      el.getLink.disabled = !state.path;
    }
  });

  function showLink(data, body, key) {
    const absolute = new URL(data.url, window.location.href).href;
    el.linkUrl.value = absolute;
    el.openLink.href = absolute;
    el.token.textContent = JSON.stringify({ header: data.header, payload: data.payload }, null, 2);
    const notes = [];
    const exp = data.payload && typeof data.payload.exp === "number" ? data.payload.exp : null;
    if (exp !== null) {
      const when = new Date(exp * 1000);
      notes.push("Valid until " + when.toLocaleString() + " (" + humanDuration(body.lifetime) + ").");
    }
    if ("w" in body.insecureParams) notes.push("The page may change w=… in this URL; everything else is signed.");
    el.linkNote.textContent = notes.join(" ");
    el.linkResult.hidden = false;
    el.linkResult.classList.remove("stale");
    el.linkStale.hidden = true;
    state.linkParams = key;
  }

  el.copy.addEventListener("click", async () => {
    const text = el.linkUrl.value;
    try {
      if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      el.linkNote.textContent = "Copied to the clipboard.";
    } catch (_) {
      el.linkUrl.focus();
      el.linkUrl.select();
      el.linkNote.textContent = "The link is selected: press Ctrl+C (⌘C on a Mac) to copy it.";
    }
  });

  function humanDuration(seconds) {
    const units = [
      [86400, "day"],
      [3600, "hour"],
      [60, "minute"],
      [1, "second"],
    ];
    for (const [size, name] of units) {
      if (seconds >= size && seconds % size === 0) {
        const n = seconds / size;
        return n + " " + name + (n === 1 ? "" : "s");
      }
    }
    return seconds + " seconds";
  }

  // ---------------------------------------------------------------- session

  el.logout.addEventListener("click", async () => {
    el.logout.disabled = true;
    try {
      await fetch("/studio/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
      });
    } finally {
      window.location.reload();
    }
  });

  // ---------------------------------------------------------------- start

  for (const control of el.form.querySelectorAll('input[type="color"]')) showColor(control);
  loadOptions();
  browse("/", false);
})();
