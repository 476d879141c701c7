// The approval inbox: pending approvals as cards, grouped by the run that waits on them, kept
// current by polling (a decision made elsewhere disappears within a few seconds).
import { api, type Approval, type Page } from "./api";
import { approvalCard, type CardHandle, type Choice } from "./card";
import { EditRefused, sendDecisions } from "./decide";
import { h } from "./dom";
import { t } from "./i18n";
import { canDecide } from "./state";

const POLL_MS = 3000;

interface Group {
  el: HTMLElement;
  list: HTMLElement;
  note: HTMLElement;
  send: HTMLButtonElement;
  cards: Map<string, CardHandle>;
  choices: Map<string, Choice>;
}

export class Inbox {
  readonly el: HTMLElement;
  private readonly summary = h("p", { class: "summary", role: "status", "aria-live": "polite" });
  /** What the last decision did (the card itself leaves the inbox once decided). */
  private readonly outcome = h("p", { class: "outcome", role: "status", "aria-live": "polite" });
  private readonly groups = new Map<string, Group>();
  private readonly body = h("div", { class: "groups" });
  private timer: number | undefined;
  private busy = false;

  constructor() {
    this.el = h(
      "section",
      { class: "inbox", "aria-labelledby": "inbox-title" },
      h("h2", { id: "inbox-title" }, t("tabInbox")),
      canDecide() ? null : h("p", { class: "note" }, t("viewerNote")),
      this.summary,
      this.outcome,
      this.body,
    );
  }

  start(): void {
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const page = await api<Page<Approval>>("/v1/approvals?status=pending&limit=200");
      this.render(page.items);
    } catch (error) {
      this.summary.textContent = t("error", { msg: (error as Error).message });
    } finally {
      this.busy = false;
    }
  }

  private render(approvals: Approval[]): void {
    const seen = new Set(approvals.map((a) => a.id));
    for (const [key, group] of this.groups) {
      for (const [id, card] of group.cards) {
        if (!seen.has(id)) {
          card.el.remove();
          group.cards.delete(id);
          group.choices.delete(id);
        }
      }
      if (!group.cards.size) {
        group.el.remove();
        this.groups.delete(key);
      }
    }
    for (const approval of approvals) {
      const key = approval.thread_id ?? approval.id;
      let group = this.groups.get(key);
      if (!group) {
        group = this.newGroup(key);
        this.groups.set(key, group);
        this.body.append(group.el);
      }
      const existing = group.cards.get(approval.id);
      if (existing) {
        existing.update(approval);
        continue;
      }
      const card = approvalCard(approval, {
        grouped: false,
        onChoice: (handle, choice) => void this.choose(key, handle, choice),
      });
      group.cards.set(approval.id, card);
      group.list.append(card.el);
    }
    for (const group of this.groups.values()) this.drawGroup(group);
    // the group that expires first comes first (re-appended only when the order changed, so a
    // card being edited keeps its focus)
    const soonest = (g: Group) => Math.min(...[...g.cards.values()].map((c) => Date.parse(c.approval.expires_at ?? "9999-12-31")));
    const order = [...this.groups.values()].sort((a, b) => soonest(a) - soonest(b));
    if (order.some((g, i) => this.body.children[i] !== g.el)) {
      // moving a group blurs whatever is focused inside it (a reason being typed): give it back
      const focused = document.activeElement;
      order.forEach((g) => this.body.append(g.el));
      if (focused instanceof HTMLElement && focused !== document.activeElement && this.body.contains(focused)) focused.focus();
    }
    this.summary.textContent = approvals.length ? t("inboxCount", { n: approvals.length }) : t("inboxEmpty");
  }

  private newGroup(key: string): Group {
    const note = h("p", { class: "group-note" });
    const send = h("button", { type: "button", class: "primary", hidden: true }, "");
    const list = h("div", { class: "cards" });
    const el = h("section", { class: "group", "data-thread": key }, note, list, send);
    const group: Group = { el, list, note, send, cards: new Map(), choices: new Map() };
    send.addEventListener("click", () => void this.sendGroup(group));
    return group;
  }

  private drawGroup(group: Group): void {
    const several = group.cards.size > 1;
    group.el.classList.toggle("several", several);
    group.note.hidden = !several;
    group.send.hidden = !several;
    group.note.textContent = several ? t("groupNote", { n: group.cards.size }) : "";
    group.send.textContent = t("sendDecisions", { n: group.cards.size });
    group.send.disabled = !canDecide() || group.choices.size < group.cards.size;
  }

  private async choose(key: string, card: CardHandle, choice: Choice): Promise<void> {
    const group = this.groups.get(key);
    if (!group) return;
    group.choices.set(card.approval.id, choice);
    if (group.cards.size > 1) {
      const label = choice.type === "approve" ? t("approve") : choice.type === "reject" ? t("reject") : t("edit");
      card.setStatus(t("chosen", { choice: label }));
      this.drawGroup(group);
      return;
    }
    await this.sendGroup(group);
  }

  private async sendGroup(group: Group): Promise<void> {
    const chosen = [...group.choices].map(([id, choice]) => ({ approval: group.cards.get(id)!.approval, choice }));
    const cards = chosen.map((c) => group.cards.get(c.approval.id)!);
    cards.forEach((c) => c.setStatus(t("working")));
    group.send.disabled = true;
    try {
      const outcome = await sendDecisions(chosen);
      cards.forEach((c) => c.setStatus(chosen.some((x) => x.choice.type === "edit") ? t("editDone", { what: outcome }) : outcome));
    } catch (error) {
      const text = error instanceof EditRefused ? t("editRejected", { why: error.message }) : t("error", { msg: (error as Error).message });
      cards.forEach((c) => c.setStatus(text, true));
    } finally {
      group.choices.clear();
      this.drawGroup(group);
      this.outcome.textContent = cards.map((c) => c.el.querySelector(".status")?.textContent).join(" · ");
      this.outcome.classList.toggle("bad", cards.some((c) => c.el.querySelector(".status.bad")));
      window.setTimeout(() => void this.refresh(), 300);
    }
  }
}
