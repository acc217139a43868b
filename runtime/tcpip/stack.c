/*
 * stack.c - mg/stack.h for every stack: addresses, and each call passed
 * to the implementation that made the object (stack_impl.h).
 */
#include <stdio.h>
#include <string.h>

#include "mg/stack.h"
#include "stack_impl.h"

mg_ipaddr mg_ipaddr_v4(uint32_t host_order)
{
    mg_ipaddr a = {.family = MG_IPV4};
    a.bytes[0] = (uint8_t)(host_order >> 24);
    a.bytes[1] = (uint8_t)(host_order >> 16);
    a.bytes[2] = (uint8_t)(host_order >> 8);
    a.bytes[3] = (uint8_t)host_order;
    return a;
}

uint32_t mg_ipaddr_v4_value(const mg_ipaddr *a)
{
    if (a->family != MG_IPV4) return 0;
    return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 | (uint32_t)a->bytes[2] << 8 |
           a->bytes[3];
}

bool mg_ipaddr_parse(const char *s, mg_ipaddr *a)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned part = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3)
            part = part * 10 + (unsigned)(*s++ - '0'), digits++;
        if (!digits || part > 255 || *s != (i < 3 ? '.' : '\0')) return false;
        v = v << 8 | part;
        s++;
    }
    *a = mg_ipaddr_v4(v);
    return true;
}

char *mg_ipaddr_format(const mg_ipaddr *a, char buf[MG_IPADDR_STRLEN])
{
    if (a->family == MG_IPV4) {
        snprintf(buf, MG_IPADDR_STRLEN, "%u.%u.%u.%u", a->bytes[0], a->bytes[1], a->bytes[2],
                 a->bytes[3]);
        return buf;
    }
    if (a->family != MG_IPV6) {
        snprintf(buf, MG_IPADDR_STRLEN, "?");
        return buf;
    }
    /* eight groups, without shortening a run of zeros: always readable,
     * never ambiguous */
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(buf + n, MG_IPADDR_STRLEN - n, i ? ":%x" : "%x",
                              (unsigned)(a->bytes[2 * i] << 8 | a->bytes[2 * i + 1]));
    return buf;
}

bool mg_ipaddr_equal(const mg_ipaddr *a, const mg_ipaddr *b)
{
    size_t n = a->family == MG_IPV4 ? 4 : 16;
    return a->family == b->family && !memcmp(a->bytes, b->bytes, n);
}

mg_tcp *mg_stackv4v6_tcp(mg_stackv4v6 *s)
{
    return s->tcp;
}

mg_udp *mg_stackv4v6_udp(mg_stackv4v6 *s)
{
    return s->udp;
}

size_t mg_stackv4v6_addresses(mg_stackv4v6 *s, mg_ipaddr *out, size_t max)
{
    return s->ops->addresses(s, out, max);
}

int mg_tcp_listen(mg_tcp *t, uint16_t port, mg_tcp_accept_fn *fn, void *arg, mg_tcp_listener **out)
{
    if (!fn || !out || port == 0) return MG_EINVAL;
    return t->ops->tcp_listen(t, port, fn, arg, out);
}

void mg_tcp_unlisten(mg_tcp_listener *l)
{
    if (l) l->ops->tcp_unlisten(l);
}

int mg_tcp_connect(mg_tcp *t, const mg_ipaddr *addr, uint16_t port, mg_tcp_connect_fn *fn,
                   void *arg)
{
    if (!addr || !fn || port == 0) return MG_EINVAL;
    if (addr->family == MG_IPV6) return MG_EUNSUPPORTED;
    if (addr->family != MG_IPV4) return MG_EINVAL;
    return t->ops->tcp_connect(t, addr, port, fn, arg);
}

void mg_flow_set_callbacks(mg_flow *f, const mg_flow_callbacks *cb, void *arg)
{
    f->cb = cb ? *cb : (mg_flow_callbacks){0};
    f->cb_arg = arg;
    if (!f->released && f->ops->flow_callbacks_set) f->ops->flow_callbacks_set(f);
}

int mg_flow_write(mg_flow *f, const void *data, size_t size, size_t *taken)
{
    size_t ignored;
    if (!taken) taken = &ignored;
    *taken = 0;
    if (f->released) return MG_ENOTCONN;
    if (size == 0) return MG_OK;
    if (!data) return MG_EINVAL;
    return f->ops->flow_write(f, data, size, taken);
}

size_t mg_flow_unsent(const mg_flow *f)
{
    return f->ops->flow_unsent(f);
}

void mg_flow_pause(mg_flow *f)
{
    if (f->paused || f->released) return;
    f->paused = true;
    f->ops->flow_pause(f);
}

void mg_flow_resume(mg_flow *f)
{
    if (!f->paused || f->released) return;
    f->paused = false;
    f->ops->flow_resume(f);
}

void mg_flow_shutdown(mg_flow *f)
{
    if (!f->released) f->ops->flow_shutdown(f);
}

void mg_flow_close(mg_flow *f)
{
    if (!f || f->released) return;
    f->released = true;
    f->ops->flow_close(f);
}

void mg_flow_abort(mg_flow *f)
{
    if (!f || f->released) return;
    f->released = true;
    f->ops->flow_abort(f);
}

void mg_flow_peer(const mg_flow *f, mg_ipaddr *addr, uint16_t *port)
{
    f->ops->flow_ends(f, true, addr, port);
}

void mg_flow_local(const mg_flow *f, mg_ipaddr *addr, uint16_t *port)
{
    f->ops->flow_ends(f, false, addr, port);
}

int mg_udp_bind(mg_udp *u, uint16_t port, mg_udp_recv_fn *fn, void *arg, mg_udp_socket **out)
{
    if (!fn || !out) return MG_EINVAL;
    return u->ops->udp_bind(u, port, fn, arg, out);
}

uint16_t mg_udp_port(const mg_udp_socket *s)
{
    return s->ops->udp_port(s);
}

int mg_udp_sendto(mg_udp_socket *s, const mg_ipaddr *dst, uint16_t port, const void *data,
                  size_t size)
{
    if (!dst || port == 0 || (size && !data)) return MG_EINVAL;
    if (dst->family == MG_IPV6) return MG_EUNSUPPORTED;
    if (dst->family != MG_IPV4) return MG_EINVAL;
    if (size > 65507) return MG_EINVAL; /* the most an IPv4 datagram carries */
    return s->ops->udp_sendto(s, dst, port, data, size);
}

void mg_udp_close(mg_udp_socket *s)
{
    if (s) s->ops->udp_close(s);
}

void mg_stack_flow_recv(mg_flow *f, const uint8_t *data, size_t size)
{
    if (!f->released && f->cb.recv) f->cb.recv(f->cb_arg, f, data, size);
}

void mg_stack_flow_writable(mg_flow *f)
{
    if (!f->released && f->cb.writable) f->cb.writable(f->cb_arg, f);
}

void mg_stack_flow_closed(mg_flow *f, int status)
{
    if (f->released) return;
    f->released = true; /* the application may not touch it after */
    if (f->cb.closed) f->cb.closed(f->cb_arg, f, status);
}
