// One approval as a plan a person can judge: where from and to, a size grid, money, the rain and
// forecast behind it, the rule that stopped it — and the decision controls.
import { api, type Approval, type Forecast, type Run, type Sku, type Style, type TransferOrder } from "./api";
import { h, money, num } from "./dom";
import { rainBand, t } from "./i18n";
import { canDecide, getCatalog, getPlaces, resolveSkus, serviceNow, session } from "./state";

export type Choice =
  | { type: "approve" }
  | { type: "reject"; message: string }
  | { type: "edit"; lines: { sku: string; qty: number }[] };

export interface CardHandle {
  el: HTMLElement;
  approval: Approval;
  update(approval: Approval): void;
  setStatus(text: string, bad?: boolean): void;
}

/** Rain in a run's input (an alert's payload), wherever the graph keeps it. */
export function findRain(value: unknown): { city: string; mm: number; hours: number; id?: string } | null {
  if (!value || typeof value !== "object") return null;
  const obj = value as Record<string, unknown>;
  // an alert's payload ({precipitation_mm, window_hours}) or an alert run's input ({mm, hours})
  const mm = obj.precipitation_mm ?? obj.mm;
  if (typeof mm === "number" && typeof obj.city === "string") {
    const hours = obj.window_hours ?? obj.hours;
    const id = obj.alert_id ?? obj.external_id;
    return { city: obj.city, mm, hours: typeof hours === "number" ? hours : 24, id: typeof id === "string" ? id : undefined };
  }
  for (const child of Object.values(obj)) {
    const found = findRain(child);
    if (found) return found;
  }
  return null;
}

const runs = new Map<string, Promise<Run | null>>();
export function getRun(id: string | null): Promise<Run | null> {
  if (!id) return Promise.resolve(null);
  if (!runs.has(id)) runs.set(id, api<Run>(`/v1/runs/${encodeURIComponent(id)}`).catch(() => null));
  return runs.get(id)!;
}

export function countdown(expiresAt: string | null): string {
  if (!expiresAt) return t("noExpiry");
  const left = new Date(expiresAt).getTime() - serviceNow();
  if (left <= 0) return t("expired");
  const secs = Math.floor(left / 1000);
  const hh = Math.floor(secs / 3600);
  const mm = Math.floor((secs % 3600) / 60);
  const ss = secs % 60;
  const text = `${hh > 0 ? `${hh}:` : ""}${String(mm).padStart(hh > 0 ? 2 : 1, "0")}:${String(ss).padStart(2, "0")}`;
  return t("expiresIn", { t: text });
}

/** Every countdown on the page ticks once a second. */
setInterval(() => {
  document.querySelectorAll<HTMLElement>("[data-expires]").forEach((el) => {
    el.textContent = countdown(el.dataset.expires || null);
    el.classList.toggle("soon", new Date(el.dataset.expires || 0).getTime() - serviceNow() < 15 * 60_000);
  });
}, 1000);

function fourEyes(a: Approval): string {
  const need = Number(a.payload.approvers_required ?? 1);
  if (need <= 1) return t("oneApprover") + (a.payload.distinct_from_requester ? ` · ${t("notRequester")}` : "");
  if (a.decided_by) return t("fourEyesFirst", { who: a.decided_by });
  return t("fourEyes", { done: 0, need });
}

interface GridRow {
  code: string;
  name: string;
  style: Style | undefined;
  sizes: string[];
  cells: Map<string, { sku: string; qty: number }>;
}

function gridRows(lines: { sku: string; qty: number }[], skus: Map<string, Sku>, styles: Style[]): GridRow[] {
  const rows = new Map<string, GridRow>();
  for (const line of lines) {
    const sku = skus.get(line.sku);
    const styleCode = sku?.style ?? line.sku;
    const key = `${styleCode}/${sku?.colour ?? ""}`;
    let row = rows.get(key);
    if (!row) {
      const style = styles.find((s) => s.code === styleCode);
      const name = style ? (document.documentElement.lang.startsWith("zh") ? style.name_zh : style.name_en) : "";
      row = {
        code: `${styleCode}${sku?.colour ? `-${sku.colour}` : ""}`,
        name,
        style,
        sizes: style?.size_run ?? [],
        cells: new Map(),
      };
      rows.set(key, row);
    }
    const size = sku?.size ?? "—";
    if (!row.sizes.includes(size)) row.sizes.push(size);
    const cell = row.cells.get(size);
    row.cells.set(size, { sku: line.sku, qty: (cell?.qty ?? 0) + line.qty });
  }
  return [...rows.values()];
}

/** Size grids: style (and colour) × size, one table per size run (boots 35–44, umbrellas OS);
 * inputs instead of numbers while editing. */
function sizeGrids(rows: GridRow[], editing: boolean, id: string): HTMLElement {
  const runs = new Map<string, GridRow[]>();
  rows.forEach((row) => runs.set(row.sizes.join("|"), [...(runs.get(row.sizes.join("|")) ?? []), row]));
  return h("div", { class: "grids" }, [...runs.values()].map((group) => sizeGrid(group, editing, id)));
}

function sizeGrid(rows: GridRow[], editing: boolean, id: string): HTMLTableElement {
  const sizes: string[] = [];
  rows.forEach((r) => r.sizes.forEach((s) => sizes.includes(s) || sizes.push(s)));
  const table = h(
    "table",
    { class: "size-grid" },
    h("caption", { class: "sr-only" }, `${t("style")} × size`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("style")), sizes.map((s) => h("th", { scope: "col" }, s)), h("th", { scope: "col" }, t("total")))),
  );
  const body = h("tbody", {});
  for (const row of rows) {
    const total = [...row.cells.values()].reduce((sum, c) => sum + c.qty, 0);
    body.append(
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("span", { class: "code" }, row.code), h("span", { class: "name" }, row.name)),
        sizes.map((size) => {
          const cell = row.cells.get(size);
          if (!cell) return h("td", { class: "empty" }, row.sizes.includes(size) ? "·" : "");
          if (!editing) return h("td", {}, String(cell.qty));
          return h(
            "td",
            {},
            h("input", {
              type: "number",
              min: 0,
              step: 1,
              value: cell.qty,
              "data-sku": cell.sku,
              "aria-label": t("qtyFor", { style: `${row.code} ${row.name}`, size }),
              id: `${id}-${cell.sku}`,
            }),
          );
        }),
        h("td", { class: "total" }, String(total)),
      ),
    );
  }
  table.append(body);
  return table;
}

interface CardOptions {
  /** Called with the person's choice; the inbox sends it (alone or with its group). */
  onChoice(handle: CardHandle, choice: Choice): void;
  /** In a group the buttons choose; alone they send at once. */
  grouped: boolean;
}

export function approvalCard(approval: Approval, options: CardOptions): CardHandle {
  const id = `card-${approval.id}`;
  const args = ((approval.payload.action as { args?: Record<string, unknown> } | undefined)?.args ?? {}) as {
    source?: string;
    dest?: string;
    lines?: { sku: string; qty: number }[];
  };
  const isTransfer = approval.subject_type === "transfer_order";
  const title = h("h3", { id: `${id}-title` }, `${isTransfer ? t("transfer") : t("markdown")} ${approval.subject_id}`);
  const route = h("p", { class: "route" }, isTransfer ? `${args.source ?? "?"} → ${args.dest ?? "?"}` : "");
  const expiry = h("li", { class: "expiry", "data-expires": approval.expires_at ?? "" }, countdown(approval.expires_at));
  const eyes = h("li", { class: "four-eyes" }, fourEyes(approval));
  const chips = h("ul", { class: "chips" }, expiry, eyes, h("li", {}, t("requestedBy", { who: approval.requested_by })));
  const gridBox = h("div", { class: "grid-box" });
  const numbers = h("dl", { class: "numbers" });
  const why = h("ul", { class: "why", "aria-label": t("why") });
  const policy = h("p", { class: "policy" }, h("strong", {}, `${t("policyRule")}: `), approval.policy_rule);
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const rejectForm = h("form", { class: "reject-form", hidden: true });
  const el = h(
    "article",
    { class: "card", id, "aria-labelledby": `${id}-title`, "data-approval": approval.id },
    h("header", {}, title, route, chips),
    gridBox,
    numbers,
    why,
    policy,
    actions,
    rejectForm,
    status,
  );
  let lines = args.lines ?? [];
  let rows: GridRow[] = [];
  let editing = false;

  const handle: CardHandle = {
    el,
    approval,
    update(next: Approval) {
      handle.approval = next;
      eyes.textContent = fourEyes(next);
      expiry.dataset.expires = next.expires_at ?? "";
    },
    setStatus(text: string, bad = false) {
      status.textContent = text;
      status.classList.toggle("bad", bad);
    },
  };

  const drawGrid = () => {
    gridBox.replaceChildren(sizeGrids(rows, editing, id));
  };

  const button = (label: string, onclick: () => void, cls = "") =>
    h("button", { type: "button", class: cls, onclick: onclick as EventListener, disabled: !canDecide(), title: canDecide() ? null : t("viewerNote") }, label);

  const drawActions = () => {
    actions.replaceChildren();
    if (editing) {
      actions.append(
        button(t("saveEdit"), () => {
          const edited = [...gridBox.querySelectorAll<HTMLInputElement>("input[data-sku]")]
            .map((input) => ({ sku: input.dataset.sku!, qty: Math.max(0, Math.round(Number(input.value) || 0)) }))
            .filter((line) => line.qty > 0);
          if (!edited.length) {
            handle.setStatus(t("reasonRequired"), true);
            return;
          }
          editing = false;
          drawGrid();
          drawActions();
          options.onChoice(handle, { type: "edit", lines: edited });
        }, "primary"),
        button(t("cancel"), () => {
          editing = false;
          drawGrid();
          drawActions();
        }),
      );
      return;
    }
    actions.append(
      button(t("approve"), () => options.onChoice(handle, { type: "approve" }), "primary"),
      button(t("reject"), () => {
        rejectForm.hidden = false;
        rejectForm.querySelector("textarea")?.focus();
      }, "danger"),
    );
    if (isTransfer && rows.length) {
      actions.append(
        button(t("edit"), () => {
          editing = true;
          drawGrid();
          drawActions();
          gridBox.querySelector("input")?.focus();
        }),
      );
    }
  };

  const reasonId = `${id}-reason`;
  const reason = h("textarea", { id: reasonId, rows: 2, "aria-required": "true" });
  rejectForm.append(
    h("label", { for: reasonId }, t("rejectReason")),
    reason,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "danger" }, t("rejectSend")),
      h("button", { type: "button", onclick: (() => { rejectForm.hidden = true; }) as EventListener }, t("cancel")),
    ),
  );
  rejectForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = reason.value.trim();
    if (!message) {
      handle.setStatus(t("reasonRequired"), true);
      reason.focus();
      return;
    }
    rejectForm.hidden = true;
    options.onChoice(handle, { type: "reject", message });
  });
  drawActions();
  void fill();
  return handle;

  async function fill(): Promise<void> {
    const [catalog, places] = await Promise.all([getCatalog(), getPlaces().catch(() => null)]);
    const placeName = (code?: string) => {
      const place = places?.locations.find((l) => l.code === code);
      if (!place) return code ?? "?";
      return `${code} ${document.documentElement.lang.startsWith("zh") ? place.name_zh : place.name_en}`;
    };
    if (isTransfer) route.textContent = `${placeName(args.source)} → ${placeName(args.dest)}`;
    let order: TransferOrder | null = null;
    if (isTransfer) {
      order = await api<TransferOrder>(`/v1/transfer-orders/${encodeURIComponent(approval.subject_id)}`).catch(() => null);
      if (order?.lines.length) lines = order.lines.map((l) => ({ sku: l.sku, qty: l.qty }));
      const skus = await resolveSkus(lines.map((l) => l.sku));
      rows = gridRows(lines, skus, catalog.styles);
      drawGrid();
      drawActions();
    }
    const p = approval.payload as Record<string, number | undefined>;
    // a chat proposal carries no forecast: its margin was not assessed (not "¥0")
    const assessed = order ? order.lines.some((l) => l.expected_units_saved > 0) || order.expected_value !== 0 : false;
    const margin = assessed ? order?.expected_value : undefined;
    const freight = order?.cost ?? p.cost;
    const pairs: [string, string][] = [
      [t("unitsLabel"), num(p.units ?? lines.reduce((s, l) => s + l.qty, 0))],
      [t("retailValue"), money(p.value)],
      [t("marginSaved"), assessed ? money(margin) : t("notAssessed")],
      [t("freight"), money(freight)],
      [t("net"), margin !== undefined && freight !== undefined ? money(margin - freight) : "—"],
    ];
    if (order) pairs.push([t("leadTime"), t("hours", { n: num(order.lead_time_hours) })]);
    numbers.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

    const run = await getRun(approval.run_id);
    const rain = findRain(run?.input);
    why.replaceChildren(
      h("li", {}, rain ? t("rainAlert", { mm: num(rain.mm), h: rain.hours, city: rain.city, band: rainBand(rain.mm / Math.max(1, rain.hours / 24)) }) : t("noRain")),
    );
    if (order?.reason) why.append(h("li", {}, `${t("reason")}: ${order.reason}`));
    const explained = order?.lines.find((l) => l.explanation?.dest_days_to_stockout_before != null);
    if (explained) {
      why.append(
        h("li", {}, t("stockout", {
          before: num(explained.explanation.dest_days_to_stockout_before, 1),
          after: num(explained.explanation.dest_days_to_stockout_after, 1),
        })),
      );
    }
    if (isTransfer && args.dest && rows.length) {
      const forecastLine = h("li", { class: "forecast" }, t("forecastLoading"));
      why.append(forecastLine);
      const styles = [...new Set(rows.map((r) => r.style?.code).filter(Boolean))].slice(0, 4) as string[];
      const days = 7;
      const today = (session.me?.now ?? new Date().toISOString()).slice(0, 10);
      try {
        let mean = 0;
        let base = 0;
        for (const style of styles) {
          const forecast = await api<Forecast>("/v1/forecasts", {
            body: {
              style,
              locations: [args.dest],
              level: "style",
              horizon_days: days,
              rain: rain ? [{ city: rain.city, start: today, days: Math.max(1, Math.round(rain.hours / 24)), precipitation_mm_per_day: rain.mm / Math.max(1, rain.hours / 24) }] : [],
            },
          });
          for (const series of forecast.series) {
            mean += series.total_mean;
            base += series.baseline_mean ?? series.total_mean;
          }
        }
        forecastLine.textContent = t("forecastAtDest", {
          dest: args.dest,
          days,
          mean: num(mean, 1),
          base: num(base, 1),
          uplift: base > 0 ? `×${num(mean / base, 2)}` : "—",
        });
      } catch (error) {
        forecastLine.textContent = t("error", { msg: (error as Error).message });
      }
    }
  }
}
