/** A session as layout 1 of every backend stored it: before run logs, fields inline. */
export function legacyAgentSession(): Record<string, unknown> {
  return {
    sessionId: "old",
    userId: "ada",
    sessionName: "kept",
    agentId: null,
    teamSessionId: null,
    memory: { turns: 3 },
    sessionData: null,
    extraData: null,
    agentData: null,
    createdAt: 1000,
    updatedAt: 2000,
    version: 7,
  };
}
