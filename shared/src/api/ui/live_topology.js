// The live topology beside the flow editor: the flow's graph drawn from the
// text being typed (POST /flows/graph, the server's own parser and graph),
// redrawn DEBOUNCE_MS after the editor's last change (its change callback,
// no timer polling the text) and only from a source that parses and
// validates; while the text is invalid the last good graph stays, with a
// note saying why it is not redrawn. A change while the pane is hidden is
// drawn when the pane is shown (`now`), so a hidden pane costs nothing.

import { api, h } from "./app.js";
import { topologyView } from "./topology.js";

/** The pause in typing before the graph is redrawn. */
export const DEBOUNCE_MS = 500;

/**
 * A pane that draws the graph of `text()` while `shown()` is true: call
 * `changed()` from the editor's change callback, `now()` when the pane is
 * shown, and `stop()` when the editor goes.
 */
export function liveTopology(text, shown) {
  const note = h("p", { class: "muted", "data-testid": "live-topology-note" }, "The topology of the flow being written.");
  const graphBox = h("div", { "data-testid": "live-topology-graph" });
  const pane = h("div", { class: "live-topology", "data-testid": "live-topology" }, note, graphBox);
  let drawn = null; // the text last sent
  let asked = 0;
  let pending = null; // the debounce of the last change
  let stopped = false;
  const draw = async (value) => {
    const mine = ++asked;
    drawn = value;
    pane.dataset.asked = String(mine);
    try {
      const graph = await api("/flows/graph", { method: "POST", body: value, headers: { "Content-Type": "application/x-yaml" } });
      if (mine !== asked || stopped) return;
      graphBox.replaceChildren(topologyView(graph, null));
      note.textContent = "The topology of the flow being written.";
      pane.dataset.drawn = String(mine);
    } catch (e) {
      if (mine !== asked || stopped) return;
      note.textContent = `Not redrawn, the flow does not validate: ${String(e.message || e).slice(0, 300)}`;
    }
  };
  const now = () => {
    clearTimeout(pending);
    pending = null;
    if (stopped || !pane.isConnected || !shown()) return;
    const value = text();
    if (value !== drawn) draw(value);
  };
  const changed = () => {
    if (stopped) return;
    clearTimeout(pending);
    pending = setTimeout(now, DEBOUNCE_MS);
  };
  const stop = () => {
    stopped = true;
    clearTimeout(pending);
  };
  return { pane, changed, now, stop };
}
