// The forecast view: history, the forecast with its P10–P90 band, the weather-free baseline
// and the rain of every day, for a city × category (or one style, or one store).
import uPlot from "uplot";
import { api, query, type Forecast, type HistoryDay } from "./api";
import { latestRainAlert } from "./map";
import { h, num } from "./dom";
import { named, t } from "./i18n";
import { getCatalog, getPlaces, session } from "./state";


export class ForecastView {
  readonly el: HTMLElement;
  private readonly city = h("select", { id: "fc-city" });
  private readonly category = h("select", { id: "fc-category" });
  private readonly style = h("select", { id: "fc-style" });
  private readonly store = h("select", { id: "fc-store" });
  private readonly rainMm = h("input", { id: "fc-rain", type: "number", min: 0, max: 500, step: 1, value: 0 });
  private readonly rainDays = h("input", { id: "fc-rain-days", type: "number", min: 1, max: 14, step: 1, value: 2 });
  private readonly chartBox = h("div", { class: "chart", role: "img", "aria-busy": "true" });
  private readonly caption = h("figcaption", {});
  private readonly tableBox = h("details", { class: "table-box" });
  private readonly status = h("p", { role: "status", "aria-live": "polite" });
  private plot: uPlot | null = null;

  constructor() {
    const form = h(
      "form",
      { class: "controls" },
      h("label", { for: "fc-city" }, t("city")),
      this.city,
      h("label", { for: "fc-category" }, t("category")),
      this.category,
      h("label", { for: "fc-style" }, t("style")),
      this.style,
      h("label", { for: "fc-store" }, t("location")),
      this.store,
      h("label", { for: "fc-rain" }, t("rainScenario")),
      this.rainMm,
      h("label", { for: "fc-rain-days" }, t("rainDays")),
      this.rainDays,
      h("button", { type: "submit", class: "primary" }, t("show")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.ready) void this.draw();
    });
    this.el = h(
      "section",
      { class: "forecast-view", "aria-labelledby": "fc-title" },
      h("h2", { id: "fc-title" }, t("tabForecast")),
      form,
      this.status,
      h("figure", {}, this.chartBox, this.caption),
      this.tableBox,
    );
    this.city.addEventListener("change", () => {
      this.cityChosen = true;
      if (this.ready) void this.fillStores().then(() => this.draw());
    });
    this.category.addEventListener("change", () => {
      if (this.ready) void this.fillStyles().then(() => this.draw());
    });
    this.style.addEventListener("change", () => void (this.ready && this.draw()));
    this.store.addEventListener("change", () => void (this.ready && this.draw()));
  }

  // A choice made while start() still fills the controls is drawn by start() itself (a draw then
  // would read an empty category); a city chosen then is not replaced by the alert's.
  private ready = false;
  private cityChosen = false;

  async start(): Promise<void> {
    const [places, catalog] = await Promise.all([getPlaces(), getCatalog()]);
    this.city.replaceChildren(...places.cities.map((c) => h("option", { value: c.code }, named(c))));
    const categories = [...catalog.categories].sort((a, b) => Number(b.rain_sensitive) - Number(a.rain_sensitive));
    this.category.replaceChildren(...categories.map((c) => h("option", { value: c.code }, named(c))));
    const alert = await latestRainAlert();
    const city = places.cities.find((c) => [c.code, c.name_en, c.name_zh].includes(String(alert?.payload.city)));
    if (city && !this.cityChosen) this.city.value = city.code;
    await Promise.all([this.fillStyles(), this.fillStores()]);
    this.ready = true;
    await this.draw();
  }

  stop(): void {
    this.plot?.destroy();
  }

  private async fillStyles(): Promise<void> {
    const catalog = await getCatalog();
    const styles = catalog.styles.filter((s) => s.category === this.category.value);
    this.style.replaceChildren(h("option", { value: "" }, t("allStyles")), ...styles.map((s) => h("option", { value: s.code }, `${s.code} ${named(s)}`)));
  }

  private async fillStores(): Promise<void> {
    const places = await getPlaces();
    const stores = places.locations.filter((l) => l.city === this.city.value && l.kind === "store");
    this.store.replaceChildren(h("option", { value: "" }, t("allStores")), ...stores.map((l) => h("option", { value: l.code }, `${l.code} ${named(l)}`)));
  }

  private drawing = 0;

  private async draw(): Promise<void> {
    const token = ++this.drawing; // only the latest choice is drawn
    this.status.textContent = t("loading");
    this.chartBox.setAttribute("aria-busy", "true");
    const city = this.city.value;
    const style = this.style.value || undefined;
    const location = this.store.value || undefined;
    const today = (session.me?.now ?? new Date().toISOString()).slice(0, 10);
    const mm = Number(this.rainMm.value) || 0;
    try {
      const [history, forecast] = await Promise.all([
        api<{ days: HistoryDay[] }>(`/v1/sales-history${query({ city, category: this.category.value, style, location, days: 42 })}`),
        api<Forecast>("/v1/forecasts", {
          body: {
            city,
            category: this.category.value,
            style,
            locations: location ? [location] : [],
            level: "style",
            horizon_days: 14,
            rain: mm > 0 ? [{ city, start: today, days: Number(this.rainDays.value) || 1, precipitation_mm_per_day: mm }] : [],
          },
        }),
      ]);
      if (token !== this.drawing) return;
      this.render(history.days, forecast);
      this.status.textContent = "";
    } catch (error) {
      if (token === this.drawing) this.status.textContent = t("error", { msg: (error as Error).message });
    } finally {
      if (token === this.drawing) this.chartBox.setAttribute("aria-busy", "false");
    }
  }

  private render(history: HistoryDay[], forecast: Forecast): void {
    const byDay = new Map<string, { mean: number; p10: number; p90: number; base: number }>();
    for (const series of forecast.series) {
      for (const p of series.points) {
        const row = byDay.get(p.date) ?? { mean: 0, p10: 0, p90: 0, base: 0 };
        row.mean += p.mean;
        row.p10 += p.quantiles.p10 ?? p.mean;
        row.p90 += p.quantiles.p90 ?? p.mean;
        row.base += p.baseline ?? p.mean;
        byDay.set(p.date, row);
      }
    }
    const rainAhead = new Map(forecast.weather.filter((w) => w.city === this.city.value).map((w) => [w.date, w.precipitation_mm]));
    const futureDays = [...byDay.keys()].sort();
    const dates = [...history.map((d) => d.date), ...futureDays.filter((d) => !history.some((x) => x.date === d))];
    const x = dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const sold = dates.map((d) => history.find((x) => x.date === d)?.units ?? null);
    const pick = (key: "mean" | "p10" | "p90" | "base") => dates.map((d) => (byDay.has(d) ? +byDay.get(d)![key].toFixed(2) : null));
    const rain = dates.map((d) => history.find((x) => x.date === d)?.precipitation_mm ?? rainAhead.get(d) ?? null);
    const data: uPlot.AlignedData = [x, sold, pick("mean"), pick("p10"), pick("p90"), pick("base"), rain];
    const what = [this.category.selectedOptions[0]?.textContent, this.style.value || null, this.store.value || this.city.selectedOptions[0]?.textContent]
      .filter(Boolean)
      .join(" · ");
    this.chartBox.setAttribute("aria-label", t("forecastTitle", { what }));
    this.plot?.destroy();
    const width = Math.max(320, Math.min(960, this.el.clientWidth - 24 || 800));
    this.plot = new uPlot(
      {
        title: t("forecastTitle", { what }),
        width,
        height: 340,
        scales: { x: { time: true }, mm: { range: (_u, _min, max) => [0, Math.max(20, max * 3)] } },
        axes: [{}, { label: t("unitsLabel") }, { scale: "mm", side: 1, label: t("seriesRain"), grid: { show: false } }],
        series: [
          {},
          { label: t("seriesHistory"), stroke: "#1f2937", width: 2, points: { show: true, size: 4 } },
          { label: t("seriesMean"), stroke: "#2563eb", width: 2 },
          { label: "P10", stroke: "rgba(37,99,235,0.35)", width: 1 },
          { label: "P90", stroke: "rgba(37,99,235,0.35)", width: 1 },
          { label: t("seriesBaseline"), stroke: "#9333ea", dash: [6, 4], width: 1.5 },
          { label: t("seriesRain"), scale: "mm", stroke: "#0891b2", fill: "rgba(8,145,178,0.25)", paths: uPlot.paths.bars!({ size: [0.6, 18] }), points: { show: false } },
        ],
        bands: [{ series: [4, 3], fill: "rgba(37,99,235,0.15)" }],
      },
      data,
      this.chartBox,
    );
    const totalMean = futureDays.reduce((sum, d) => sum + byDay.get(d)!.mean, 0);
    const totalBase = futureDays.reduce((sum, d) => sum + byDay.get(d)!.base, 0);
    this.caption.replaceChildren(
      t("model", { model: forecast.model }),
      h("br", {}),
      `${t("seriesMean")}: ${num(totalMean, 1)} · ${t("seriesBaseline")}: ${num(totalBase, 1)} · ${t("uplift")}: ${totalBase > 0 ? `×${num(totalMean / totalBase, 2)}` : "—"}`,
      h("br", {}),
      t("bandNote"),
    );
    this.tableBox.replaceChildren(
      h("summary", {}, t("chartTable")),
      h(
        "table",
        { class: "data" },
        h("thead", {}, h("tr", {}, [t("date"), t("seriesHistory"), t("seriesMean"), "P10", "P90", t("seriesBaseline"), t("seriesRain")].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          dates.map((d, i) =>
            h("tr", {}, h("th", { scope: "row" }, d), [sold[i], data[2][i], data[3][i], data[4][i], data[5][i], rain[i]].map((v) => h("td", {}, v === null || v === undefined ? "" : num(v as number, 1)))),
          ),
        ),
      ),
    );
  }
}
