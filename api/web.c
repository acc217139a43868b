/*
 * web.c - the dashboard's files: web/index.html at `/`, the rest of web/
 * at `/ui/NAME`; and the API's OpenAPI document at `/openapi.json`.
 *
 * The files are compiled into mgd (cmake/embed.cmake), so a daemon serves
 * the dashboard of its own version with nothing to install. They are
 * served open (the page asks for a token itself), with an ETag (the
 * content's sha256, computed once) so a browser revalidates instead of
 * downloading again, and a Content-Security-Policy that lets the page talk
 * to this daemon only: no script, style, font or image from anywhere else,
 * no inline script, no framing.
 *
 * The OpenAPI document (api/openapi.json) is compiled in the same way, so a
 * client reads the description of the very daemon it talks to; it is open
 * like /health (it tells nothing about what the daemon holds).
 */
#include <pthread.h>
#include <string.h>

#include "graph/embedded.h"
#include "api/internal.h"
#include "base/sha256.h"

MG_EMBEDDED_FILES(mg_web_files);
MG_EMBEDDED_FILES(mg_openapi_files);

#define MG_WEB_MAX_FILES 32

static char etags[MG_WEB_MAX_FILES][MG_SHA256_HEX_SIZE];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void compute_etags(void)
{
    for (size_t i = 0; i < mg_web_files_count && i < MG_WEB_MAX_FILES; i++)
        mg_sha256_bytes_hex(mg_web_files[i].data, mg_web_files[i].len, etags[i]);
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

static void serve(mg_req *r, const char *name)
{
    pthread_once(&etags_once, compute_etags);
    for (size_t i = 0; i < mg_web_files_count && i < MG_WEB_MAX_FILES; i++) {
        const mg_embedded_file *f = &mg_web_files[i];
        /* paths are "web/NAME" */
        if (strncmp(f->path, "web/", 4) != 0 || strcmp(f->path + 4, name) != 0) continue;
        mg_reply_header(r, "ETag", "\"%s\"", etags[i]);
        mg_reply_header(r, "Cache-Control", "no-cache");
        mg_reply_header(r, "X-Content-Type-Options", "nosniff");
        mg_reply_header(r, "Referrer-Policy", "no-referrer");
        mg_reply_header(r, "Content-Security-Policy",
                        "default-src 'none'; script-src 'self'; style-src 'self'; "
                        "img-src 'self' blob: data:; connect-src 'self'; "
                        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
        if (mg_etag_match(mg_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etags[i])) {
            mg_reply_text(r, 304, NULL, "", 0);
            return;
        }
        mg_reply_text(r, 200, content_type(name), f->data, f->len);
        return;
    }
    mg_reply_error(r, 404, "no file %s in the dashboard", name);
}

void mg_h_root(mg_req *r)
{
    serve(r, "index.html");
}

void mg_h_ui(mg_req *r)
{
    /* /ui/NAME: the dashboard's files are one flat directory */
    if (r->match.n_segments != 2) {
        mg_reply_error(r, 404, "no such file in the dashboard");
        return;
    }
    serve(r, r->match.segments[1]);
}

void mg_h_openapi(mg_req *r)
{
    mg_reply_embedded(r, mg_openapi_files, mg_openapi_files_count, "application/json",
                      "its OpenAPI document");
}
