// The console's shell: sign-in with an API key, the language switch, the views and the chat.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ApiError, api, storeKey, storedKey } from "./api";
import { ChatPanel } from "./chat";
import { h } from "./dom";
import { ForecastView } from "./forecast";
import { currentLang, setLang, t, type Key } from "./i18n";
import { Inbox } from "./inbox";
import { MapView } from "./map";
import { RunsView } from "./runs";
import { loadMe, resetCaches, session } from "./state";

interface View {
  el: HTMLElement;
  start?(): void;
  stop?(): void;
}

const TABS: { id: string; label: Key; make: () => View }[] = [
  { id: "inbox", label: "tabInbox", make: () => new Inbox() },
  { id: "map", label: "tabMap", make: () => new MapView() },
  { id: "forecast", label: "tabForecast", make: () => new ForecastView() },
  { id: "runs", label: "tabRuns", make: () => new RunsView() },
];

const root = document.getElementById("app")!;
let current: View | null = null;
let currentTab = location.hash.slice(1) || "inbox";
let chat: ChatPanel | null = null;

function languageButton(): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: "lang",
      "aria-label": t("languageLabel"),
      lang: currentLang() === "en" ? "zh-CN" : "en",
      onclick: (() => {
        setLang(currentLang() === "en" ? "zh" : "en");
        render();
      }) as EventListener,
    },
    t("language"),
  );
}

function loginScreen(message = ""): void {
  const error = h("p", { class: "bad", role: "alert" }, message);
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("loginTitle")),
    h("label", { for: "api-key" }, t("apiKey")),
    input,
    h("button", { type: "submit", class: "primary" }, t("signIn")),
    h("p", { class: "help" }, t("loginHelp")),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    storeKey(input.value.trim());
    try {
      await loadMe();
      render();
    } catch (err) {
      storeKey(null);
      const status = err instanceof ApiError ? err.status : 0;
      error.textContent = status === 503 ? `${t("starting")}: ${(err as Error).message}` : `${t("badKey")}: ${(err as Error).message}`;
      input.focus();
    }
  });
  root.replaceChildren(h("header", { class: "top" }, h("span", { class: "brand" }, t("title")), languageButton()), h("main", { id: "main" }, form));
  input.focus();
}

function shell(): void {
  current?.stop?.();
  chat?.stop();
  const tablist = h("div", { role: "tablist", "aria-label": t("mainNav"), class: "tabs" });
  const panel = h("div", { role: "tabpanel", id: "view", tabindex: "-1" });
  const buttons = TABS.map((tab) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${tab.id}`,
        "aria-controls": "view",
        "aria-selected": String(tab.id === currentTab),
        tabindex: tab.id === currentTab ? "0" : "-1",
        onclick: (() => select(tab.id)) as EventListener,
      },
      t(tab.label),
    ),
  );
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab moves into the view.
  tablist.addEventListener("keydown", (event) => {
    const index = TABS.findIndex((tab) => tab.id === currentTab);
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = TABS[(index + step + TABS.length) % TABS.length];
    select(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  });
  tablist.append(...buttons);
  const me = session.me!;
  chat = new ChatPanel();
  root.replaceChildren(
    h(
      "header",
      { class: "top" },
      h("span", { class: "brand" }, t("title")),
      tablist,
      h("span", { class: "who" }, t("signedInAs", { name: me.name, roles: me.roles.join(", ") })),
      languageButton(),
      h("button", { type: "button", onclick: (() => { storeKey(null); resetCaches(); chat?.stop(); current?.stop?.(); loginScreen(); }) as EventListener }, t("signOut")),
    ),
    h("div", { class: "layout" }, h("main", { id: "main" }, panel), chat.el),
  );
  select(currentTab);

  function select(id: string): void {
    currentTab = TABS.some((tab) => tab.id === id) ? id : "inbox";
    history.replaceState(null, "", `#${currentTab}`);
    buttons.forEach((button, i) => {
      const on = TABS[i].id === currentTab;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", `tab-${currentTab}`);
    current?.stop?.();
    current = TABS.find((tab) => tab.id === currentTab)!.make();
    panel.replaceChildren(current.el);
    current.start?.();
  }
}

function render(): void {
  document.title = t("title");
  if (session.me) shell();
  else loginScreen();
}

setLang(currentLang());
if (storedKey()) {
  loadMe()
    .then(render)
    .catch((err: Error) => {
      if (!(err instanceof ApiError) || err.status === 401) storeKey(null);
      loginScreen(err.message);
    });
} else {
  loginScreen();
}
// The health probe needs no key: say so at once when the service is still starting.
api<{ status: string; message?: string }>("/healthz")
  .then((health) => {
    if (health.status !== "ok") document.querySelector(".login .bad")?.append(`${t("starting")}: ${health.message ?? ""}`);
  })
  .catch(() => undefined);
