// Runs and audit: each run's timeline (triage → plan → gate → decisions → WMS) from its steps,
// proposals and audit events, and the whole audit trail.
import { api, query, type AuditEvent, type Page, type Run, type RunStep, type TransferOrder } from "./api";
import { h } from "./dom";
import { t, type Key } from "./i18n";

interface Stage {
  key: Key;
  nodes: string[];
  audit: (kind: string) => boolean;
}

const STAGES: Stage[] = [
  { key: "stageTriage", nodes: ["triage", "scope", "agent"], audit: (k) => k.startsWith("run.") || k.startsWith("alert") },
  { key: "stagePlan", nodes: ["forecast", "plan", "promos", "propose", "tools"], audit: (k) => k.endsWith(".proposed") || k === "agent.proposal" },
  { key: "stageGate", nodes: ["gate"], audit: (k) => k === "approval.requested" || k.endsWith("auto_approved") || k.endsWith(".pending_approval") || k.includes("refused") },
  { key: "stageDecisions", nodes: ["await_decisions", "apply_decisions"], audit: (k) => k.startsWith("approval.") && k !== "approval.requested" && k !== "approval.auto_approved" },
  { key: "stageWms", nodes: ["execute"], audit: (k) => k.includes("dispatch") || k.startsWith("outbox") || k.endsWith(".received") },
];

interface LatestEval {
  report: {
    path: string;
    started_at: string | null;
    llm_mode: string | null;
    passed: boolean;
    scenarios: { id: string; purpose: string; passed: boolean; passes: number; trials: number }[];
    markdown: string | null;
  } | null;
  hint: string | null;
}

function when(iso: string): string {
  return iso.replace("T", " ").slice(0, 19);
}

function auditTable(events: AuditEvent[], caption: string, withPayload = true): HTMLTableElement {
  return h(
    "table",
    { class: "data audit" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, [t("at"), t("kindCol"), t("actor"), t("subject"), withPayload ? "" : null].map((c) => (c === null ? null : h("th", { scope: "col" }, c))))),
    h(
      "tbody",
      {},
      events.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, when(e.at)),
          h("th", { scope: "row" }, e.kind),
          h("td", {}, e.actor),
          h("td", {}, e.subject_id ?? ""),
          withPayload ? h("td", { class: "payload" }, JSON.stringify(e.payload).slice(0, 160)) : null,
        ),
      ),
    ),
  );
}

export class RunsView {
  readonly el: HTMLElement;
  private readonly list = h("div", { class: "runs-list" });
  private readonly detail = h("div", { class: "run-detail", "aria-live": "polite" });
  private readonly audit = h("div", { class: "audit-box" });
  private readonly evals = h("section", { class: "eval-box", "aria-labelledby": "eval-title" });

  constructor() {
    this.el = h(
      "section",
      { class: "runs-view", "aria-labelledby": "runs-title" },
      h("h2", { id: "runs-title" }, t("tabRuns")),
      h("button", { type: "button", onclick: (() => void this.start()) as EventListener }, t("refresh")),
      h("div", { class: "runs-grid" }, this.list, this.detail),
      this.evals,
      this.audit,
    );
  }

  async start(): Promise<void> {
    try {
      const [runs, audit, evals] = await Promise.all([
        api<Page<Run>>("/v1/runs?limit=30"),
        api<Page<AuditEvent>>("/v1/audit?limit=100"),
        api<LatestEval>("/v1/evals/latest"),
      ]);
      this.showEval(evals);
      this.list.replaceChildren(
        h(
          "table",
          { class: "data" },
          h("caption", {}, t("runs")),
          h("thead", {}, h("tr", {}, [t("created"), t("trigger"), t("status"), ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            runs.items.map((run) =>
              h(
                "tr",
                {},
                h("td", {}, when(run.created_at)),
                h("td", {}, `${run.trigger} · ${run.assistant_id}`),
                h("td", { class: `run-${run.status}` }, run.status),
                h("td", {}, h("button", { type: "button", "aria-label": `${t("open")} ${run.id}`, onclick: (() => void this.open(run)) as EventListener }, t("open"))),
              ),
            ),
          ),
        ),
      );
      this.audit.replaceChildren(auditTable(audit.items, t("audit")));
      const first = runs.items.find((r) => r.trigger === "alert") ?? runs.items[0];
      if (first && !this.detail.childElementCount) await this.open(first);
    } catch (error) {
      this.list.textContent = t("error", { msg: (error as Error).message });
    }
  }

  private showEval(latest: LatestEval): void {
    const title = h("h3", { id: "eval-title" }, t("evalReport"));
    const report = latest.report;
    if (!report) {
      this.evals.replaceChildren(title, h("p", { class: "note" }, t("noEval")), h("p", { class: "note" }, latest.hint ?? ""));
      return;
    }
    const failed = report.scenarios.filter((s) => !s.passed);
    this.evals.replaceChildren(
      ...[
      title,
      h(
        "p",
        { class: report.passed ? "" : "bad" },
        `${report.passed ? "PASS" : "FAIL"} · ${report.scenarios.length - failed.length}/${report.scenarios.length} · ${report.started_at ?? ""} · ${report.llm_mode ?? ""} · ${report.path}`,
      ),
      failed.length ? h("ul", {}, failed.map((s) => h("li", { class: "bad" }, `${s.id}: ${s.passes}/${s.trials} — ${s.purpose}`))) : null,
      report.markdown ? h("details", {}, h("summary", {}, "report.md"), h("pre", { class: "report" }, report.markdown)) : null,
      ].filter((el) => el !== null) as HTMLElement[],
    );
  }

  private async open(run: Run): Promise<void> {
    const id = encodeURIComponent(run.id);
    const [steps, audit, proposals] = await Promise.all([
      api<RunStep[]>(`/v1/runs/${id}/steps`).catch(() => [] as RunStep[]),
      api<Page<AuditEvent>>(`/v1/audit${query({ run_id: run.id, limit: 500 })}`),
      api<{ transfer_orders: TransferOrder[] }>(`/v1/runs/${id}/proposals`).catch(() => ({ transfer_orders: [] })),
    ]);
    const done = new Set(steps.flatMap((s) => s.completed));
    const waiting = new Set(steps.flatMap((s) => s.waiting));
    const events = [...audit.items].reverse();
    const stages = STAGES.map((stage) => {
      const hits = events.filter((e) => stage.audit(e.kind));
      const ran = stage.nodes.some((n) => done.has(n)) || hits.length > 0;
      const waits = stage.nodes.some((n) => waiting.has(n));
      const state = waits ? "waiting" : ran ? "done" : "todo";
      const extra =
        stage.key === "stageWms"
          ? proposals.transfer_orders.map((o) => `${o.id}: ${o.status}${o.external_ref ? ` (${o.external_ref})` : ""}`)
          : hits.slice(-6).map((e) => `${e.kind} · ${e.actor}${e.subject_id ? ` · ${e.subject_id}` : ""}`);
      return h(
        "li",
        { class: `stage ${state}` },
        h("strong", {}, t(stage.key)),
        h("span", { class: "state" }, state),
        h("ul", {}, extra.map((x) => h("li", {}, x))),
      );
    });
    this.detail.replaceChildren(
      h("h3", {}, t("timeline", { id: run.id.slice(0, 8) })),
      h("p", {}, `${run.trigger} · ${run.assistant_id} · ${run.status}${run.error ? ` · ${run.error}` : ""}`),
      h("ol", { class: "timeline" }, stages),
      auditTable(audit.items, `${t("audit")} (${run.id.slice(0, 8)})`, false),
    );
  }
}
