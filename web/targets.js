// The targets page: what the daemon's registry offers and what runs here.
import { h, getJSON, scroller } from "./lib.js";

export async function targetsPage(view) {
  const targets = await getJSON("/targets");
  view.append(h("h1", {}, "Targets"),
    scroller(h("table", { id: "targets" },
      h("thead", {}, h("tr", {}, h("th", {}, "Target"), h("th", {}, "Arch"), h("th", {}, "Available"),
        h("th", {}, "Runs here"), h("th", {}, "Note"))),
      h("tbody", {}, targets.flatMap((t) => t.arches.map((a) => h("tr", { dataset: { target: t.name + "/" + a.name } },
        h("td", { title: t.doc || "" }, t.name), h("td", {}, a.name),
        h("td", { class: "available" }, a.available ? "yes" : "no"),
        h("td", {}, a.runnable ? "yes" : "no"),
        h("td", { class: "muted" }, a.reason || a.run_reason || ""))))))));
}
