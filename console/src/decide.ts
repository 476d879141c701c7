// Sending decisions, always with the caller's own key. Approve and reject go to the REST
// decision (the same authority and resume as any client); an edit resumes the waiting run with
// LangChain's HITL `edit` decision, so the gate checks the edited plan again.
import { api, type Approval, type Run } from "./api";
import type { Choice } from "./card";

interface ActionRequest {
  name: string;
  args: Record<string, unknown> & { subject_id?: string };
  description?: string;
}

interface ThreadState {
  interrupts?: { value?: { action_requests?: ActionRequest[] } }[];
}

export async function pendingRequests(threadId: string): Promise<ActionRequest[]> {
  const state = await api<ThreadState>(`/threads/${encodeURIComponent(threadId)}/state`);
  return (state.interrupts ?? []).flatMap((i) => i.value?.action_requests ?? []);
}

/** Decide the approvals one interrupt waits on: one call, every decision. */
export async function sendDecisions(chosen: { approval: Approval; choice: Choice }[]): Promise<string> {
  const edits = chosen.filter((c) => c.choice.type === "edit");
  if (!edits.length) {
    const decided = await api<Approval[]>("/v1/approvals/decisions", {
      body: {
        decisions: chosen.map(({ approval, choice }) => ({
          approval_id: approval.id,
          decision: choice.type,
          ...(choice.type === "reject" ? { comment: choice.message } : {}),
        })),
      },
    });
    return decided.map((a) => `${a.id}: ${a.status}${a.status === "pending" && a.decided_by ? ` (${a.decided_by})` : ""}`).join(", ");
  }
  const { approval } = chosen[0];
  const threadId = approval.thread_id!;
  const run = await api<Run>(`/v1/runs/${encodeURIComponent(approval.run_id!)}`);
  const requests = await pendingRequests(threadId);
  const bySubject = new Map(chosen.map((c) => [c.approval.subject_id, c.choice]));
  const decisions = requests.map((request) => {
    const choice = bySubject.get(String(request.args.subject_id));
    if (!choice) return { type: "reject", message: "already settled" }; // as the REST decision does
    if (choice.type === "edit") {
      // subject_id is read-only: the service ignores it in an edit (the edit replaces the order)
      return { type: "edit", edited_action: { name: request.name, args: { ...request.args, lines: choice.lines } } };
    }
    return choice.type === "reject" ? { type: "reject", message: choice.message } : { type: "approve" };
  });
  const result = await api<Record<string, unknown>>(`/threads/${encodeURIComponent(threadId)}/runs/wait`, {
    body: { assistant_id: run.assistant_id, command: { resume: { decisions } } },
  });
  if (result.__error__) throw new Error(String((result.__error__ as { message?: string }).message ?? "run failed"));
  // A refused edit leaves the approval pending, and the card (re-asked) says why first.
  const again = await pendingRequests(threadId).catch(() => []);
  const refused = again.find((r) => edits.some((e) => e.approval.subject_id === r.args.subject_id));
  if (refused?.description?.startsWith(">")) {
    throw new EditRefused(refused.description.split("\n")[0].replace(/^>\s*⚠️?\s*/, ""));
  }
  const messages = (result.messages as { type: string; content: unknown }[] | undefined) ?? [];
  const last = [...messages].reverse().find((m) => m.type === "ai" && typeof m.content === "string" && m.content);
  return last ? String(last.content).split("\n")[0] : "ok";
}

export class EditRefused extends Error {}
