// Seeded stores and paging helpers shared by the list and cursor groups.
import * as assert from "../_assert.ts";
import { compareIds } from "../../session/list.ts";
import type { Session } from "../../session/types.ts";
import { type AnyStorage, type CaseContext, TestClock } from "./_case.ts";

export interface Seeded {
  storage: AnyStorage;
  all: Session[];
  clock: TestClock;
}

export async function seed(make: CaseContext["make"], count: number): Promise<Seeded> {
  const clock = new TestClock();
  const storage = await make({ mode: "agent", clock: clock.fn });
  const all: Session[] = [];
  for (let start = 0; start < count; start += 10) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 10); i++) {
      batch.push({
        sessionId: `s${(i * 7919) % 1000}-${i}`,
        userId: i % 4 === 0 ? null : `u${i % 3}`,
        agentId: `a${i % 5}`,
        sessionName: i % 6 === 0 ? "named" : null,
      });
    }
    all.push(...await storage.upsertMany(batch));
    clock.advance(start % 30 === 0 ? 0 : 3);
  }
  // Touch some so updatedAt order differs from createdAt order.
  for (let i = 0; i < count; i += 9) {
    clock.advance(1);
    const updated = await storage.upsert({ ...all[i]!, memory: { touched: true } });
    all[i] = updated;
  }
  return { storage, all, clock };
}

export function sorted(all: Session[], sortBy: "createdAt" | "updatedAt", order: "asc" | "desc"): Session[] {
  return [...all].sort((a, b) => {
    const diff = a[sortBy] - b[sortBy] || compareIds(a.sessionId, b.sessionId);
    return order === "asc" ? diff : -diff;
  });
}

export async function pageAll(storage: AnyStorage, options: Record<string, unknown>): Promise<Session[]> {
  const out: Session[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const page: { sessions: Session[]; nextCursor: string | null } = await storage.listSessions({ ...options, cursor });
    assert.ok(page.sessions.length <= (options.limit as number ?? 20));
    out.push(...page.sessions);
    cursor = page.nextCursor;
    if (cursor === null) return out;
    assert.equal(page.sessions.length, options.limit, "only the last page may be short");
  }
  throw new Error("paging did not end");
}
