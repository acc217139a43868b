/*
 * version.h - dotted numeric library versions and requirement bounds.
 *
 * Versions are "1", "1.0", "2.10.3" (at most 8 components); missing
 * components compare as zero, so "1.0" == "1.0.0". A requirement is
 * [min, max): min inclusive, max exclusive, either optional.
 */
#ifndef MG_GRAPH_VERSION_H
#define MG_GRAPH_VERSION_H

#include <stdbool.h>
#include <stdint.h>

#define MG_VERSION_PARTS 8

typedef struct mg_version {
    uint32_t part[MG_VERSION_PARTS];
    int n;
} mg_version;

bool mg_version_parse(const char *text, mg_version *out);
int mg_version_compare(const mg_version *a, const mg_version *b);

#endif
