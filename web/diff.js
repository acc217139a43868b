// A line diff of two texts (config documents, pretty-printed), computed
// here: the daemon keeps every config version but does not compare them.
import { h, plural } from "./lib.js";

// The lines of `a` and `b` as [op, line] pairs in order, op being " " (in
// both), "-" (only in a) or "+" (only in b): a longest common subsequence
// of lines, after the common head and tail are set aside (two versions of
// a config mostly differ in a few lines, so the table stays small). Past 4
// million cells the middle is given as removed then added rather than
// taking the tab's memory.
export function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail), ys = y.slice(head, y.length - tail);
  const n = xs.length, m = ys.length;
  const out = x.slice(0, head).map((l) => [" ", l]);
  if (n * m > 4e6) {
    out.push(...xs.map((l) => ["-", l]), ...ys.map((l) => ["+", l]));
    for (const l of x.slice(x.length - tail)) out.push([" ", l]);
    return out;
  }
  // lcs[i * (m + 1) + j]: the length of the LCS of xs[i..] and ys[j..]
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = xs[i] === ys[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1
        : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) { out.push([" ", xs[i]]); i++; j++; }
    else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) out.push(["-", xs[i++]]);
    else out.push(["+", ys[j++]]);
  }
  while (i < n) out.push(["-", xs[i++]]);
  while (j < m) out.push(["+", ys[j++]]);
  for (const l of x.slice(x.length - tail)) out.push([" ", l]);
  return out;
}

// The diff from `oldText` to `newText` as a <pre> whose removed lines are
// <del> and added ones <ins> (marked for screen readers too, and by a
// leading "-" / "+"), with a summary line before it.
export function diffView(oldText, newText, { id, oldName, newName }) {
  const ops = lineDiff(oldText, newText);
  const added = ops.filter(([op]) => op === "+").length;
  const removed = ops.filter(([op]) => op === "-").length;
  const pre = h("pre", { id, class: "doc diff" }, ops.map(([op, line]) =>
    op === "+" ? h("ins", {}, "+ " + line + "\n")
      : op === "-" ? h("del", {}, "- " + line + "\n")
        : "  " + line + "\n"));
  const summary = h("p", { id: id + "-summary", class: "muted" },
    added || removed ? "From " + oldName + " to " + newName + ": " + plural(added, "line") + " added, " +
      plural(removed, "line") + " removed."
      : oldName + " and " + newName + " are the same.");
  return [summary, pre];
}
