/**
 * A small LangGraph graph (no model) checkpointed by AgentstateSaver on the workflow-mode storage a URL names
 * (`openStorage`: `file:`, `json:`, `upstash+http://`, `redis://`, `postgres://`; a token from
 * `UPSTASH_REDIS_REST_TOKEN`), for the graph test: `planner` writes a plan, `approve` interrupts for a human decision,
 * `ship` records the outcome. Run as a script, `start <url> <thread>` runs it until the interrupt and
 * `resume <url> <thread> <answer>` resumes it, each in its own process; both print the graph's state as JSON on the
 * last line.
 *
 * @module
 */
import { Annotation, Command, END, interrupt, START, StateGraph } from "@langchain/langgraph";
import { AgentstateSaver } from "../../adapters/langgraph.ts";
import { openStorage } from "../../backends/open.ts";

const State = Annotation.Root({
  request: Annotation<string>,
  plan: Annotation<string>,
  log: Annotation<string[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }),
  outcome: Annotation<string>,
});

/** The graph compiled with a saver over the workflow-mode storage `url` names (`token` for Upstash). */
export async function openGraph(url: string, token = Deno.env.get("UPSTASH_REDIS_REST_TOKEN")) {
  const storage = await openStorage(url, { mode: "workflow", ...(token ? { token } : {}) });
  const checkpointer = new AgentstateSaver({ storage });
  const graph = new StateGraph(State)
    .addNode("planner", (s) => ({ plan: `plan for ${s.request}`, log: ["planned"] }))
    .addNode("approve", () => {
      const answer = interrupt({ question: "ship it?" }) as string;
      return { log: [`answer ${answer}`] };
    })
    .addNode("ship", (s) => ({ outcome: s.log.at(-1) === "answer yes" ? "shipped" : "held", log: ["done"] }))
    .addEdge(START, "planner")
    .addEdge("planner", "approve")
    .addEdge("approve", "ship")
    .addEdge("ship", END)
    .compile({ checkpointer });
  return { graph, storage };
}

if (import.meta.main) {
  const [command, url, thread, answer] = Deno.args;
  const { graph, storage } = await openGraph(url!);
  const config = { configurable: { thread_id: thread! } };
  if (command === "start") await graph.invoke({ request: "order 42" }, config);
  else await graph.invoke(new Command({ resume: answer }), config);
  const state = await graph.getState(config);
  console.log(JSON.stringify({ values: state.values, next: state.next }));
  await storage.close();
}
