// The live topology beside the flow editor: the flow's graph drawn from the
// text being typed (POST /flows/graph, the server's own parser and graph),
// redrawn after a short pause in typing (DEBOUNCE_MS) and only from a
// source that parses and validates; while the text is invalid the last
// good graph stays, with a note saying why it is not redrawn. It is read
// while its pane is shown, so a hidden pane costs nothing, and stops once
// the editor has left the page.

import { api, h } from "./app.js";
import { topologyView } from "./topology.js";

/** The pause in typing before the graph is redrawn. */
export const DEBOUNCE_MS = 500;
/** How often the editor's text is compared with the last one drawn. */
const POLL_MS = 250;

/**
 * A pane that draws the graph of `text()` while `shown()` is true; call
 * `stop()` when the editor goes.
 */
export function liveTopology(text, shown) {
  const note = h("p", { class: "muted", "data-testid": "live-topology-note" }, "The topology of the flow being written.");
  const graphBox = h("div", { "data-testid": "live-topology-graph" });
  const pane = h("div", { class: "live-topology", "data-testid": "live-topology" }, note, graphBox);
  let drawn = null; // the text last sent
  let changedAt = 0;
  let seen = null;
  let asked = 0;
  const draw = async (value) => {
    const mine = ++asked;
    drawn = value;
    try {
      const graph = await api("/flows/graph", { method: "POST", body: value, headers: { "Content-Type": "application/x-yaml" } });
      if (mine !== asked) return;
      graphBox.replaceChildren(topologyView(graph, null));
      note.textContent = "The topology of the flow being written.";
      pane.dataset.drawn = String(mine);
    } catch (e) {
      if (mine !== asked) return;
      note.textContent = `Not redrawn, the flow does not validate: ${String(e.message || e).slice(0, 300)}`;
    }
  };
  let attached = false;
  const tick = () => {
    // the editor left the page (another page, Cancel, Save): nothing more to draw
    if (!pane.isConnected) {
      if (attached) clearInterval(timer);
      return;
    }
    attached = true;
    const value = text();
    if (value !== seen) {
      seen = value;
      changedAt = Date.now();
    }
    if (shown() && value !== drawn && Date.now() - changedAt >= DEBOUNCE_MS) draw(value);
  };
  const timer = setInterval(tick, POLL_MS);
  return { pane, stop: () => clearInterval(timer), now: () => shown() && text() !== drawn && draw(text()) };
}
