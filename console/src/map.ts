// The network map, offline: stores and DCs placed by lat/lon on a schematic SVG (no tiles),
// coloured by cover days of a category, sized by ATP, with a plan's transfers as arrows and the
// city's latest rain alert as a band over it.
import { api, query, type AlertRecord, type Approval, type LocationHealth, type Network, type Page, type TransferOrder } from "./api";
import { findRain } from "./card";
import { clear, h, num, s } from "./dom";
import { named, rainBand, t } from "./i18n";
import { getCatalog, getPlaces } from "./state";

const W = 800;
const H = 520;
const PAD = 60;

interface Arrow {
  source: string;
  dest: string;
  units: number;
  id: string;
}

function coverClass(location: LocationHealth): string {
  if (location.kind === "dc") return "dc";
  if (location.cover_days === null) return "none";
  if (location.cover_days < 3) return "low";
  if (location.cover_days < 7) return "mid";
  return "ok";
}

/** The newest weather alert the service received (views open on its city). */
export async function latestRainAlert(): Promise<AlertRecord | undefined> {
  const alerts = await api<Page<AlertRecord>>("/v1/alerts?limit=20").catch(() => null);
  return alerts?.items.find((a) => a.type === "weather");
}

export class MapView {
  readonly el: HTMLElement;
  private readonly city = h("select", { id: "map-city" });
  private readonly category = h("select", { id: "map-category" });
  private readonly plan = h("select", { id: "map-plan" });
  // busy until the first draw: nothing drawn yet is not "drawn without transfers"
  private readonly figure = h("figure", { class: "map", "aria-busy": "true" });
  private readonly caption = h("figcaption", {});
  private readonly tableBox = h("div", { class: "table-box" });
  private readonly status = h("p", { role: "status", "aria-live": "polite" });

  constructor() {
    this.el = h(
      "section",
      { class: "map-view", "aria-labelledby": "map-title" },
      h("h2", { id: "map-title" }, t("tabMap")),
      h(
        "form",
        { class: "controls", onsubmit: ((e: Event) => e.preventDefault()) as EventListener },
        h("label", { for: "map-city" }, t("city")),
        this.city,
        h("label", { for: "map-category" }, t("category")),
        this.category,
        h("label", { for: "map-plan" }, t("plan")),
        this.plan,
      ),
      this.status,
      this.figure,
      this.tableBox,
    );
    this.city.addEventListener("change", () => {
      this.cityChosen = true;
      if (this.ready) void this.draw();
    });
    for (const select of [this.category, this.plan]) select.addEventListener("change", () => void (this.ready && this.draw()));
  }

  // A choice made while start() still fills the controls is drawn by start() itself: a draw
  // then would read an empty category and plan (a map without the pending transfers); a city
  // chosen then is not replaced by the alert's.
  private ready = false;
  private cityChosen = false;

  async start(): Promise<void> {
    const [places, catalog] = await Promise.all([getPlaces(), getCatalog()]);
    this.city.replaceChildren(...places.cities.map((c) => h("option", { value: c.code }, named(c))));
    const categories = [...catalog.categories].sort((a, b) => Number(b.rain_sensitive) - Number(a.rain_sensitive));
    this.category.replaceChildren(...categories.map((c) => h("option", { value: c.code }, named(c))));
    this.plan.replaceChildren(
      h("option", { value: "pending" }, t("planPending")),
      h("option", { value: "recent" }, t("planRecent")),
      h("option", { value: "none" }, t("planNone")),
    );
    // open on the city of the latest rain alert (where decisions are being asked for), unless
    // the user chose a city meanwhile
    const latest = await latestRainAlert();
    const city = places.cities.find((c) => [c.code, c.name_en, c.name_zh].includes(String(latest?.payload.city)));
    if (city && !this.cityChosen) this.city.value = city.code;
    this.ready = true;
    await this.draw();
  }

  private async arrows(): Promise<Arrow[]> {
    if (this.plan.value === "pending") {
      const page = await api<Page<Approval>>("/v1/approvals?status=pending&limit=200");
      return page.items
        .filter((a) => a.subject_type === "transfer_order")
        .map((a) => {
          const args = (a.payload.action as { args?: { source?: string; dest?: string; lines?: { qty: number }[] } })?.args ?? {};
          return { id: a.subject_id, source: args.source ?? "", dest: args.dest ?? "", units: (args.lines ?? []).reduce((n, l) => n + l.qty, 0) };
        });
    }
    if (this.plan.value === "recent") {
      const page = await api<Page<TransferOrder>>("/v1/transfer-orders?limit=40");
      return page.items.map((o) => ({ id: o.id, source: o.source, dest: o.dest, units: o.lines.reduce((n, l) => n + l.qty, 0) }));
    }
    return [];
  }

  private drawing = 0;

  private async draw(): Promise<void> {
    const token = ++this.drawing; // only the latest choice is drawn
    this.status.textContent = t("loading");
    this.figure.setAttribute("aria-busy", "true");
    try {
      const [network, arrows, alerts, places] = await Promise.all([
        api<Network>(`/v1/network${query({ category: this.category.value, city: this.city.value })}`),
        this.arrows(),
        api<Page<AlertRecord>>("/v1/alerts?limit=100"),
        getPlaces(),
      ]);
      const city = places.cities.find((c) => c.code === this.city.value);
      const cityNames = new Set([city?.code, city?.name_en, city?.name_zh].filter(Boolean) as string[]);
      const alert = alerts.items.find((a) => a.type === "weather" && cityNames.has(String(a.payload.city)));
      const rain = alert ? findRain(alert.payload) : null;
      const here = new Set(network.locations.map((l) => l.code));
      const shown = arrows.filter((a) => here.has(a.source) || here.has(a.dest));
      // a DC in another city that feeds this one is drawn too (where it is)
      if (token !== this.drawing) return;
      const extra = places.locations.filter((l) => !here.has(l.code) && shown.some((a) => a.source === l.code || a.dest === l.code));
      this.render(network, [...network.locations, ...extra], shown, rain ? { ...rain, id: alert!.alert_id } : null);
      this.status.textContent = "";
    } catch (error) {
      if (token === this.drawing) this.status.textContent = t("error", { msg: (error as Error).message });
    } finally {
      if (token === this.drawing) this.figure.setAttribute("aria-busy", "false");
    }
  }

  private render(network: Network, locations: LocationHealth[], arrows: Arrow[], rain: { mm: number; hours: number; id: string } | null): void {
    const lat0 = locations.reduce((sum, l) => sum + l.lat, 0) / Math.max(1, locations.length);
    const k = Math.cos((lat0 * Math.PI) / 180);
    const xs = locations.map((l) => l.lon * k);
    const ys = locations.map((l) => l.lat);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = Math.min((W - 2 * PAD) / Math.max(x1 - x0, 1e-3), (H - 2 * PAD) / Math.max(y1 - y0, 1e-3));
    const at = (l: LocationHealth): [number, number] => [
      W / 2 + (l.lon * k - (x0 + x1) / 2) * scale,
      H / 2 - (l.lat - (y0 + y1) / 2) * scale,
    ];
    const maxAtp = Math.max(1, ...locations.map((l) => l.atp ?? 0));
    const cityName = this.city.selectedOptions[0]?.textContent ?? "";
    const categoryName = this.category.selectedOptions[0]?.textContent ?? "";
    const title = t("mapTitle", { city: cityName, category: categoryName });
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "group", "aria-label": title, class: "network" });
    svg.append(
      s(
        "defs",
        {},
        s("marker", { id: "arrowhead", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })),
        s("pattern", { id: "rain", width: 12, height: 12, patternUnits: "userSpaceOnUse", patternTransform: "rotate(20)" }, s("line", { x1: 0, y1: 0, x2: 0, y2: 12, class: "rain-stroke" })),
      ),
      s("rect", { x: 0, y: 0, width: W, height: H, class: "sea" }),
    );
    if (rain) {
      const intensity = Math.min(0.45, 0.15 + rain.mm / 250);
      svg.append(
        s("rect", { x: 0, y: H * 0.1, width: W, height: H * 0.8, fill: "url(#rain)", opacity: intensity, class: "rain-band" }),
        s("text", { x: 12, y: 24, class: "rain-label" }, t("rainOverlay", { mm: num(rain.mm), h: rain.hours, band: rainBand(rain.mm / Math.max(1, rain.hours / 24)), id: rain.id })),
      );
    } else {
      svg.append(s("text", { x: 12, y: 24, class: "rain-label dry" }, t("noRainOverlay")));
    }
    const byCode = new Map(locations.map((l) => [l.code, l]));
    for (const arrow of arrows) {
      const a = byCode.get(arrow.source);
      const b = byCode.get(arrow.dest);
      if (!a || !b) continue;
      const [ax, ay] = at(a);
      const [bx, by] = at(b);
      const len = Math.hypot(bx - ax, by - ay) || 1;
      const trim = 16;
      const line = s("line", {
        x1: ax + ((bx - ax) * trim) / len,
        y1: ay + ((by - ay) * trim) / len,
        x2: bx - ((bx - ax) * trim) / len,
        y2: by - ((by - ay) * trim) / len,
        class: "transfer",
        "stroke-width": Math.min(8, 1.5 + Math.sqrt(arrow.units) / 2),
        "marker-end": "url(#arrowhead)",
      });
      line.append(s("title", {}, `${arrow.id}: ${arrow.source} → ${arrow.dest}, ${arrow.units} ${t("units")}`));
      svg.append(line, s("text", { x: (ax + bx) / 2 + 4, y: (ay + by) / 2 - 4, class: "transfer-label" }, `${arrow.units}`));
    }
    for (const l of locations) {
      const [x, y] = at(l);
      const label = `${l.code} ${named(l)}: ${t("atp")} ${num(l.atp)}, ${t("coverDays")} ${num(l.cover_days, 1)}`;
      const g = s("g", { class: `node ${coverClass(l)}`, tabindex: 0, role: "img", "aria-label": label, "data-code": l.code });
      g.append(s("title", {}, label));
      if (l.kind === "dc") g.append(s("rect", { x: x - 11, y: y - 11, width: 22, height: 22, rx: 3 }));
      else g.append(s("circle", { cx: x, cy: y, r: 6 + 14 * Math.sqrt((l.atp ?? 0) / maxAtp) }));
      g.append(s("text", { x: x + 14, y: y + 4, class: "node-label" }, l.code));
      svg.append(g);
    }
    clear(this.figure);
    this.caption.replaceChildren(title, h("br", {}), t("legendCover"), h("br", {}), t("legendShapes"));
    this.figure.append(svg, this.caption);
    const rows = network.locations.map((l) =>
      h(
        "tr",
        { class: coverClass(l) },
        h("th", { scope: "row" }, `${l.code} ${named(l)}`),
        h("td", {}, l.kind),
        h("td", {}, num(l.on_hand)),
        h("td", {}, num(l.atp)),
        h("td", {}, num(l.in_transit_in)),
        h("td", {}, num(l.avg_daily_sales, 1)),
        h("td", {}, num(l.cover_days, 1)),
      ),
    );
    this.tableBox.replaceChildren(
      h(
        "table",
        { class: "data" },
        h("caption", {}, t("mapTable")),
        h("thead", {}, h("tr", {}, [t("location"), t("kind"), t("onHand"), t("atp"), t("inTransit"), t("salesPerDay"), t("coverDays")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows),
      ),
    );
  }
}
