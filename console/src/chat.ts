// The chat panel: ops_chat over the LangGraph-compatible API, in English or Chinese; a proposal
// that waits for a human shows the same approval card as the inbox.
import { api, type Approval, type Page } from "./api";
import { approvalCard, type CardHandle, type Choice } from "./card";
import { EditRefused, sendDecisions } from "./decide";
import { h } from "./dom";
import { t } from "./i18n";
import { canChat } from "./state";

interface Message {
  type: string;
  content: unknown;
}

export class ChatPanel {
  readonly el: HTMLElement;
  private readonly log = h("div", { class: "chat-log", role: "log", "aria-live": "polite" });
  private readonly input = h("textarea", { id: "chat-input", rows: 2, placeholder: t("chatPlaceholder") });
  private threadId: string | null = null;
  private shown = 0;
  private cards: CardHandle[] = [];
  private choices = new Map<string, Choice>();

  constructor() {
    const form = h(
      "form",
      { class: "chat-form", hidden: !canChat() },
      h("label", { for: "chat-input", class: "sr-only" }, t("chatInput")),
      this.input,
      h("button", { type: "submit", class: "primary" }, t("send")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send(this.input.value);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        void this.send(this.input.value);
      }
    });
    const examples = h(
      "div",
      { class: "examples", hidden: !canChat() },
      (["example1", "example2"] as const).map((key) =>
        h("button", { type: "button", class: "link", onclick: (() => void this.send(t(key))) as EventListener }, t(key)),
      ),
    );
    this.el = h(
      "aside",
      { class: "chat", "aria-labelledby": "chat-title" },
      h("h2", { id: "chat-title" }, t("chat")),
      h("button", { type: "button", class: "link", onclick: (() => this.reset()) as EventListener }, t("newThread")),
      canChat() ? null : h("p", { class: "note" }, t("chatNeedsRole")),
      this.log,
      examples,
      form,
    );
  }

  stop(): void {}

  private reset(): void {
    this.threadId = null;
    this.shown = 0;
    this.cards = [];
    this.log.replaceChildren();
  }

  private say(who: "you" | "assistant", text: string, bad = false): void {
    this.log.append(h("div", { class: `msg ${who}${bad ? " bad" : ""}` }, h("strong", {}, who === "you" ? t("you") : t("assistant")), h("div", { class: "text" }, text)));
    this.log.scrollTop = this.log.scrollHeight;
  }

  private async send(text: string): Promise<void> {
    text = text.trim();
    if (!text) return;
    this.input.value = "";
    this.say("you", text);
    const pending = h("p", { class: "thinking" }, t("thinking"));
    this.log.append(pending);
    try {
      if (!this.threadId) {
        this.threadId = (await api<{ thread_id: string }>("/threads", { body: { metadata: { source: "console" } } })).thread_id;
        this.shown = 0;
      }
      const values = await api<{ messages?: Message[]; __interrupt__?: unknown[] }>(`/threads/${this.threadId}/runs/wait`, {
        body: { assistant_id: "ops_chat", input: { messages: [{ role: "user", content: text }] } },
      });
      pending.remove();
      this.showAnswers(values.messages ?? []);
      if (values.__interrupt__?.length) await this.showCards();
    } catch (error) {
      pending.remove();
      this.say("assistant", t("error", { msg: (error as Error).message }), true);
    }
  }

  private showAnswers(messages: Message[]): void {
    const answers = messages.filter((m) => m.type === "ai" && typeof m.content === "string" && m.content);
    answers.slice(this.shown).forEach((m) => this.say("assistant", String(m.content)));
    this.shown = answers.length;
  }

  private async showCards(): Promise<void> {
    const page = await api<Page<Approval>>("/v1/approvals?status=pending&limit=200");
    const mine = page.items.filter((a) => a.thread_id === this.threadId);
    this.choices.clear();
    this.cards = mine.map((approval) =>
      approvalCard(approval, {
        grouped: mine.length > 1,
        onChoice: (handle, choice) => void this.choose(handle, choice),
      }),
    );
    this.cards.forEach((card) => this.log.append(card.el));
  }

  private async choose(card: CardHandle, choice: Choice): Promise<void> {
    this.choices.set(card.approval.id, choice);
    if (this.choices.size < this.cards.length) {
      card.setStatus(t("chosen", { choice: t(choice.type === "edit" ? "edit" : choice.type) }));
      return;
    }
    const chosen = this.cards.map((c) => ({ approval: c.approval, choice: this.choices.get(c.approval.id)! }));
    this.cards.forEach((c) => c.setStatus(t("working")));
    try {
      const outcome = await sendDecisions(chosen);
      this.cards.forEach((c) => c.el.remove());
      this.cards = [];
      this.say("assistant", outcome);
    } catch (error) {
      this.choices.clear();
      const text = error instanceof EditRefused ? t("editRejected", { why: error.message }) : t("error", { msg: (error as Error).message });
      this.cards.forEach((c) => c.setStatus(text, true));
    }
  }
}
