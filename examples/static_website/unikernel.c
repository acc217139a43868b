/*
 * static_website: serves the files of htdocs/ over HTTP/1.1, as
 * MirageOS's static_website example does. The config connects the
 * server on a TCP/IP stack (the host's sockets on unix, the direct stack
 * elsewhere) and the port runtime key (`--port=8080`); this start function
 * only hands it the files. After it returns, the loop serves the
 * connections.
 */
#include "mg/http.h"
#include "mg/kv_ro.h"

int website_start(mg_http *http, mg_kv_ro *htdocs);

int website_start(mg_http *http, mg_kv_ro *htdocs)
{
    /* a port that cannot be listened on fails the start (it says why) */
    return mg_http_serve_kv(http, htdocs);
}
