// The lineage page: draws the graph at data-graph-url with cytoscape, upstream left and
// downstream right (the server gives each node a layer and a row in it). Clicking a node on the
// rim (dashed border) adds its neighbours (its expandUrl: the next ring only) without reloading;
// clicking a dataset shows its column lineage (its columnsUrl) below. The tables below the graph
// list the same nodes and edges, and grow with it.
(() => {
  "use strict";
  const container = document.getElementById("lineage-graph");
  const columnsPanel = document.getElementById("lineage-columns");
  const status = document.getElementById("lineage-status");
  const COLUMN_WIDTH = 230;
  const ROW_HEIGHT = 70;
  const known = new Map(); // node id -> its JSON, with layer and hops from the page's start
  const lowest = new Map(); // layer -> the lowest y taken in it
  let cy = null;

  function say(text) {
    if (status) status.textContent = text;
  }

  async function fetched(url, headers) {
    const response = await fetch(url, { headers, credentials: "same-origin" });
    if (response.redirected && new URL(response.url).pathname.endsWith("/login")) {
      window.location.assign(response.url); // the session ended: sign in again
      throw new Error("sign in again");
    }
    return response;
  }

  async function getJSON(url) {
    const response = await fetched(url, { Accept: "application/json" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `failed (${response.status})`);
    return body;
  }

  // -- the tables ------------------------------------------------------------------------------

  function cell(row, content) {
    const td = document.createElement("td");
    td.append(content); // a string is appended as text, never parsed
    row.append(td);
  }

  function link(href, text, className) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (className) a.className = className;
    return a;
  }

  function side(node) {
    if (node.start) return "start";
    if (node.layer < 0) return "upstream";
    return node.layer > 0 ? "downstream" : "alongside";
  }

  function nodeRow(node) {
    const row = document.createElement("tr");
    row.dataset.nodeId = node.id;
    cell(row, String(node.hops));
    cell(row, side(node));
    cell(row, node.kind);
    const name = document.createDocumentFragment();
    if (node.hidden) {
      const span = document.createElement("span");
      span.className = "hidden-node";
      span.textContent = "hidden";
      name.append(span);
      row.className = "is-hidden";
    } else {
      name.append(link(node.pageUrl, node.name));
      if (node.assetUrl) name.append(" (", link(node.assetUrl, "asset"), ")");
    }
    cell(row, name);
    cell(row, node.namespace || "");
    cell(row, node.columnsUrl ? link(node.columnsUrl, "Column lineage", "lineage-columns-link") : "");
    return row;
  }

  function edgeRow(edge) {
    const row = document.createElement("tr");
    row.dataset.source = edge.source;
    row.dataset.target = edge.target;
    cell(row, known.get(edge.source).label);
    cell(row, known.get(edge.target).label);
    return row;
  }

  function appendRows(tableId, rows) {
    const body = document.querySelector(`#${tableId} tbody`);
    if (body) body.append(...rows);
  }

  // -- the graph -------------------------------------------------------------------------------

  function classes(node) {
    return [node.kind, node.hidden && "hidden", node.boundary && "boundary", node.start && "start"]
      .filter(Boolean)
      .join(" ");
  }

  function element(node, y) {
    lowest.set(node.layer, Math.max(lowest.get(node.layer) ?? -Infinity, y));
    return {
      group: "nodes",
      data: { id: node.id, label: node.label },
      classes: classes(node),
      position: { x: node.layer * COLUMN_WIDTH, y },
    };
  }

  function edgeElement(edge) {
    return { group: "edges", data: { id: `${edge.source}\u2192${edge.target}`, ...edge } };
  }

  function firstElements(graph) {
    const perLayer = new Map();
    for (const node of graph.nodes) perLayer.set(node.layer, (perLayer.get(node.layer) || 0) + 1);
    const elements = graph.nodes.map((node) => {
      known.set(node.id, node);
      const middle = (perLayer.get(node.layer) - 1) / 2;
      return element(node, (node.row - middle) * ROW_HEIGHT);
    });
    return elements.concat(graph.edges.map(edgeElement));
  }

  const STYLE = [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "font-size": 11,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "ellipsis",
        "text-max-width": `${COLUMN_WIDTH - 30}px`,
        width: 26,
        height: 26,
        "background-color": "#2f6f9f",
        "border-width": 1,
        "border-color": "#1d4766",
      },
    },
    { selector: "node.dataset", style: { shape: "round-rectangle", width: 34 } },
    { selector: "node.job", style: { shape: "ellipse", "background-color": "#8a5a00" } },
    {
      selector: "node.hidden",
      style: { "background-color": "#b8b8b8", "border-style": "dotted", color: "#555" },
    },
    { selector: "node.boundary", style: { "border-style": "dashed", "border-width": 3 } },
    { selector: "node.start", style: { "border-width": 4, "border-color": "#d33" } },
    { selector: "node:selected", style: { "overlay-opacity": 0.15 } },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "curve-style": "bezier",
        "target-arrow-shape": "triangle",
        "line-color": "#999",
        "target-arrow-color": "#999",
      },
    },
  ];

  async function expand(id) {
    const base = known.get(id);
    say(`Adding the neighbours of ${base.label}…`);
    const ring = await getJSON(base.expandUrl);
    const added = [];
    const rows = [];
    for (const node of ring.nodes) {
      const seen = known.get(node.id);
      if (seen) {
        seen.boundary = seen.boundary && node.boundary && node.id !== id;
        cy.getElementById(node.id).classes(classes(seen));
        continue;
      }
      const placed = {
        ...node,
        start: false,
        layer: base.layer + node.layer,
        hops: base.hops + node.hops,
      };
      known.set(placed.id, placed);
      const below = lowest.get(placed.layer);
      added.push(element(placed, below === undefined ? 0 : below + ROW_HEIGHT));
      rows.push(nodeRow(placed));
    }
    base.boundary = false;
    cy.getElementById(id).classes(classes(base));
    const edges = ring.edges.filter((e) => cy.getElementById(`${e.source}\u2192${e.target}`).empty());
    cy.add(added.concat(edges.map(edgeElement)));
    appendRows("lineage-nodes", rows);
    appendRows("lineage-edges", edges.map(edgeRow));
    cy.fit(undefined, 30);
    say(`Added ${added.length} node${added.length === 1 ? "" : "s"} around ${base.label}.`);
  }

  // -- column lineage --------------------------------------------------------------------------

  async function showColumns(url) {
    const response = await fetched(url, { "HX-Request": "true" });
    columnsPanel.innerHTML = await response.text(); // the server's escaped fragment
    const heading = columnsPanel.querySelector("h2");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest(".lineage-columns-link") : null;
    if (!target || !columnsPanel) return;
    event.preventDefault();
    showColumns(target.href).catch((error) => say(error.message));
  });

  // -- start -----------------------------------------------------------------------------------

  async function start() {
    if (!container || typeof window.cytoscape !== "function") return;
    const graph = await getJSON(container.dataset.graphUrl);
    cy = window.cytoscape({
      container,
      elements: firstElements(graph),
      style: STYLE,
      layout: { name: "preset", fit: true, padding: 30 },
      minZoom: 0.1,
      maxZoom: 3,
      autoungrabify: true,
    });
    cy.on("tap", "node", (event) => {
      const node = known.get(event.target.id());
      if (!node || node.hidden) {
        say("This node is hidden: you may not see it.");
        return;
      }
      const work = [];
      if (node.columnsUrl && columnsPanel) work.push(showColumns(node.columnsUrl));
      if (node.boundary && node.expandUrl) work.push(expand(node.id));
      if (!work.length) say(`${node.label}: all its neighbours are shown.`);
      Promise.all(work).catch((error) => say(error.message));
    });
  }

  start().catch((error) => say(`The graph could not be drawn: ${error.message}`));
})();
