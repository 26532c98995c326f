// The validation suite on UpstashRedisStorage through the REST bridge in front of a real redis-server, both started
// by tests/langgraph_validation_test.ts, which passes AGENTSTATE_UPSTASH_URL and AGENTSTATE_UPSTASH_TOKEN. Each
// checkpointer has a key prefix of its own, so it starts empty.
import { UpstashRedisStorage } from "@agentstate/storage/upstash";
import { validateOn } from "./validate_on.mjs";

const url = process.env.AGENTSTATE_UPSTASH_URL;
const token = process.env.AGENTSTATE_UPSTASH_TOKEN;
if (!url || !token) throw new Error("AGENTSTATE_UPSTASH_URL and AGENTSTATE_UPSTASH_TOKEN must name the bridge");
const run = Math.random().toString(36).slice(2, 10);

validateOn("AgentstateSaver(upstash)", (n) => ({
  storage: new UpstashRedisStorage({ mode: "workflow", url, token, retries: 0, prefix: `lg-${run}-${n}` }),
}));
