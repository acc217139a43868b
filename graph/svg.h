/*
 * svg.h - drawing a resolved graph as a self-contained SVG 1.1 image.
 *
 * The picture the daemon serves for GET /projects/:id/graph?format=svg,
 * made without Graphviz or any other tool. The layout is layered: a node's
 * layer is 0 for a device without dependencies, else 1 + the highest layer
 * of its deps, so every edge points down, leaves sit at the bottom and jobs
 * near the top (like `mgd describe --format dot`, rankdir=BT). Within a
 * layer nodes are ordered by the mean position of their deps (one pass,
 * ties by initialisation order), which keeps most edges short and uncrossed
 * for the graphs configs make. Each node is a box with its id and
 * "impl : type" (the C symbol for user code); jobs are highlighted. Each
 * dependency is a straight arrow from the node to its dep, one per entry of
 * deps (a device used twice by one node draws two arrows).
 *
 * The output is deterministic (integer coordinates, no time, no randomness)
 * and takes O(nodes log nodes + edges) time: the image widens with the
 * widest layer. All text is XML-escaped; bytes that are not valid UTF-8
 * or not XML characters (controls) become U+FFFD, so the result is always
 * well-formed XML whatever the names hold. Long labels are cut with an
 * ellipsis in the box; each node's <title> (the tooltip) has them in full.
 *
 * Stable hooks for tests and styling: nodes are <g class="node"> (jobs
 * <g class="node job">) with id="n<index>", edges are <path class="edge">.
 */
#ifndef MG_GRAPH_SVG_H
#define MG_GRAPH_SVG_H

#include "graph/resolve.h"

/* malloc'd SVG text ending in a newline; NULL when memory runs out. */
char *mg_describe_svg(const mg_graph *g);

#endif
