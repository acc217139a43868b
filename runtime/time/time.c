/*
 * time.c - the `time` device (mg/time.h): sleeps as event-loop timers.
 *
 * Each sleep is a small allocation holding its loop timer, kept on a list
 * of the device so that mg_time_cancel can find it by (callback, argument),
 * the only names a caller has for it. The list is in arming order, so the
 * oldest matching sleep is the first found. There is one platform clock and
 * one loop, hence one device: every connect returns the same one.
 */
#include <stdlib.h>

#include "mg/loop.h"
#include "mg/time.h"

struct mg_time_sleep {
    mg_loop_timer timer;
    void (*cb)(void *arg);
    void *arg;
    struct mg_time_sleep *prev, *next;
};

struct mg_loop_time {
    mg_time base;
    struct mg_time_sleep *first, *last;
};

static void mg_loop_time_unlink(struct mg_loop_time *t, struct mg_time_sleep *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        t->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        t->last = s->prev;
}

static struct mg_loop_time mg_loop_time_device;

static void mg_loop_time_fire(void *arg)
{
    struct mg_time_sleep *s = arg;
    void (*cb)(void *) = s->cb;
    void *cb_arg = s->arg;
    /* Gone from the list before the callback runs: it may sleep again with
     * the same (cb, arg), and cancelling that must not find this one. */
    mg_loop_time_unlink(&mg_loop_time_device, s);
    free(s);
    cb(cb_arg);
}

static int mg_loop_time_sleep(mg_time *base, uint64_t ns, void (*cb)(void *arg), void *arg)
{
    struct mg_loop_time *t = (struct mg_loop_time *)base;
    struct mg_time_sleep *s = calloc(1, sizeof *s);
    if (!s) return MG_ENOMEM;
    uint64_t now = mg_loop_now();
    uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
    int status = mg_loop_timer_start(&s->timer, deadline, mg_loop_time_fire, s);
    if (status != MG_OK) {
        free(s);
        return status;
    }
    s->cb = cb;
    s->arg = arg;
    s->prev = t->last;
    if (t->last)
        t->last->next = s;
    else
        t->first = s;
    t->last = s;
    return MG_OK;
}

static int mg_loop_time_cancel(mg_time *base, void (*cb)(void *arg), void *arg)
{
    struct mg_loop_time *t = (struct mg_loop_time *)base;
    for (struct mg_time_sleep *s = t->first; s; s = s->next)
        if (s->cb == cb && s->arg == arg) {
            mg_loop_timer_stop(&s->timer);
            mg_loop_time_unlink(t, s);
            free(s);
            return MG_OK;
        }
    return MG_ENOENT;
}

static const struct mg_time_ops mg_loop_time_ops = {
    .sleep = mg_loop_time_sleep,
    .cancel = mg_loop_time_cancel,
};

static struct mg_loop_time mg_loop_time_device = {.base = {.ops = &mg_loop_time_ops}};

int mg_time_connect(mg_time **out)
{
    *out = &mg_loop_time_device.base;
    return MG_OK;
}

int mg_time_sleep(mg_time *t, uint64_t ns, void (*cb)(void *arg), void *arg)
{
    return t->ops->sleep(t, ns, cb, arg);
}

int mg_time_cancel(mg_time *t, void (*cb)(void *arg), void *arg)
{
    return t->ops->cancel(t, cb, arg);
}
