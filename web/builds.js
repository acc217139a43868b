// Lists of builds: the table every list of builds uses, and the queue.
import { h, statusSpan, when, duration, enc, getAll, every } from "./lib.js";

// A table of builds; `empty` is what it says when there are none.
export function buildsTable(id, builds, withProject, empty) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, h("th", {}, "Build"), withProject && h("th", {}, "Project"), h("th", {}, "Status"),
      h("th", {}, "Target"), h("th", {}, "Keys"), h("th", {}, "Created"), h("th", {}, "Duration"),
      h("th", {}, "Image"))),
    h("tbody", {}, builds.map((b) => h("tr", { dataset: { build: b.id } },
      h("td", {}, h("a", { href: "#/builds/" + b.id }, "#" + b.id)),
      withProject && h("td", {}, h("a", { href: "#/projects/" + enc(b.project.name) }, b.project.name)),
      h("td", {}, statusSpan(b.status)),
      h("td", {}, b.target + "/" + b.arch),
      h("td", { class: "mono" }, Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ") || "-"),
      h("td", {}, when(b.created_at)),
      h("td", {}, duration(b.duration_ms)),
      h("td", { class: "mono" }, b.image ? b.image.sha256.slice(0, 12) : "-"))),
      builds.length ? null : h("tr", {}, h("td", { class: "empty", colspan: 8 }, empty))));
}

export async function queuePage(view) {
  view.append(h("h1", {}, "Queue"));
  const box = h("div", {});
  view.append(box);
  async function load() {
    const builds = await getAll("/builds?status=queued,running");
    box.replaceChildren(buildsTable("queue", builds, true, "Nothing queued or running."));
  }
  await load();
  every(2000, load);
}
