/*
 * echo example: a TCP echo server (RFC 862) on the `port` runtime key
 * (default 7), serving any number of clients at once. It is the reference
 * example of mg/stack.h: accept, receive, write with back-pressure, end.
 *
 * Back-pressure: mg_flow_write copies what fits into the flow's send
 * buffer. When it takes less than it was given (MG_EAGAIN, a client that
 * sends faster than it reads), the rest is kept here and the flow paused,
 * so nothing more is read from that client until `writable` says there is
 * room; then the rest goes out and reading resumes. Memory per client
 * stays bounded by the stack's buffer and one held read.
 *
 * With --discard=true it reads and drops instead (RFC 863), so that a
 * one-way throughput test (iperf) measures the stack's receive path.
 *
 * On unix with the socket stack (the default there), no privileges:
 *   mgd run echo -- --port=7007 &  nc localhost 7007
 */
#include <stdlib.h>
#include <string.h>

#include "mg/console.h"
#include "mg/stack.h"
#include "mg_keys.h"

int echo_start(mg_console *console, mg_stackv4v6 *stack);

/* One client: the received bytes its flow has not taken yet. */
struct client {
    uint8_t *held;
    size_t len;
};

static void client_free(struct client *c)
{
    free(c->held);
    free(c);
}

static void on_recv(void *arg, mg_flow *f, const uint8_t *data, size_t size)
{
    struct client *c = arg;
    if (size == 0) {
        /* the client has ended its stream: end ours once the echo is
         * out; no callback comes after close, so let go of it now */
        mg_flow_close(f);
        client_free(c);
        return;
    }
    if (mg_key_discard()) return;
    size_t taken;
    int rc = mg_flow_write(f, data, size, &taken);
    if (rc == MG_OK) return;
    c->held = rc == MG_EAGAIN ? malloc(size - taken) : NULL;
    if (!c->held) {
        mg_flow_abort(f); /* the connection is over, or no memory to hold the rest */
        client_free(c);
        return;
    }
    memcpy(c->held, data + taken, size - taken);
    c->len = size - taken;
    mg_flow_pause(f);
}

static void on_writable(void *arg, mg_flow *f)
{
    struct client *c = arg;
    size_t taken;
    int rc = mg_flow_write(f, c->held, c->len, &taken);
    if (rc == MG_EAGAIN) { /* still more than fits: wait for the next writable */
        memmove(c->held, c->held + taken, c->len - taken);
        c->len -= taken;
        return;
    }
    free(c->held);
    c->held = NULL;
    c->len = 0;
    if (rc == MG_OK)
        mg_flow_resume(f);
    else {
        mg_flow_abort(f);
        client_free(c);
    }
}

static void on_closed(void *arg, mg_flow *f, int status)
{
    client_free(arg); /* reset or timed out: the flow is freed after this */
}

static void on_accept(void *arg, mg_tcp_listener *l, mg_flow *f)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        mg_flow_abort(f);
        return;
    }
    static const mg_flow_callbacks callbacks = {
        .recv = on_recv, .writable = on_writable, .closed = on_closed};
    mg_flow_set_callbacks(f, &callbacks, c);
}

int echo_start(mg_console *console, mg_stackv4v6 *stack)
{
    int64_t port = mg_key_port();
    if (port < 1 || port > 65535) {
        mg_console_printf(console, "echo: --port=%lld is not a TCP port (1 to 65535)\n",
                          (long long)port);
        return 1;
    }
    mg_tcp_listener *listener; /* listens for the image's life */
    int rc = mg_tcp_listen(mg_stackv4v6_tcp(stack), (uint16_t)port, on_accept, NULL, &listener);
    if (rc != MG_OK) {
        mg_console_printf(console, "echo: cannot listen on port %lld: %s\n", (long long)port,
                          mg_strerror(rc));
        return 1;
    }
    mg_console_printf(console, "echo: %s on port %lld\n",
                      mg_key_discard() ? "discarding" : "listening", (long long)port);
    return 0;
}
