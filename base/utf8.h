/*
 * utf8.h - the one UTF-8 decoder.
 *
 * Text reaches mgd from clients, config documents, git trees and command
 * lines; wherever it must be checked (a request body, a source path) or
 * repaired (a JSON string, an SVG label, a log shown by mgctl), it is
 * decoded here, by RFC 3629: no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing above U+10FFFF, no sequence cut short.
 *
 * NUL is a character like any other here (length 1): whether a NUL byte
 * is allowed is the caller's rule (JSON text refuses it, a log shows it
 * as U+FFFD).
 */
#ifndef MG_BASE_UTF8_H
#define MG_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, what replaces a byte that is no text. */
#define MG_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The length (1 to 4) of the well-formed character at `s`, of which
 * `avail` bytes are there; 0 when they are none (or `avail` is 0). Takes
 * char and unsigned char text alike. */
size_t mg_utf8_len(const void *s, size_t avail);
/* Whether s[0..len) is well-formed UTF-8 (NUL bytes included). */
bool mg_utf8_valid(const char *s, size_t len);
/* Characters in the string `s` as shown: each byte that is no UTF-8
 * counts as one, as it is shown as U+FFFD. */
size_t mg_utf8_count(const char *s);

#endif
