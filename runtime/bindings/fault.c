/*
 * fault.c - mg_fault_format, the one wording of a CPU fault on every
 * target (abi/fault.h). Plain C over its arguments only: it runs in
 * signal handlers and exception handlers, where nothing else is safe.
 */
#include "abi/fault.h"

/* The x86 exception vectors' names (Intel SDM vol. 3, table 6-1). */
static const char *const vector_names[32] = {
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
};

struct line {
    char *buf;
    size_t len;
};

static void put(struct line *l, const char *s)
{
    while (*s && l->len < MG_FAULT_LINE_MAX - 1) l->buf[l->len++] = *s++;
}

static void put_hex(struct line *l, uint64_t v)
{
    char digits[19] = "0x";
    int n = 0;
    char rev[16];
    do {
        rev[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    for (int i = 0; i < n; i++) digits[2 + i] = rev[n - 1 - i];
    digits[2 + n] = '\0';
    put(l, digits);
}

static void put_dec(struct line *l, unsigned v)
{
    char d[4] = {0};
    if (v >= 10) {
        d[0] = (char)('0' + v / 10);
        d[1] = (char)('0' + v % 10);
    } else {
        d[0] = (char)('0' + v);
    }
    put(l, d);
}

size_t mg_fault_format(char *buf, const struct mg_fault *f)
{
    struct line l = {buf, 0};
    put(&l, "abort: CPU exception ");
    if (f->vector >= 0 && f->vector < 32) {
        put_dec(&l, (unsigned)f->vector);
        put(&l, " (");
        put(&l, vector_names[f->vector] ? vector_names[f->vector] : "reserved");
        /* a page fault's error code says what was tried and why it failed */
        if (f->vector == 14 && f->has_error_code) {
            uint64_t e = f->error_code;
            put(&l, e & 16 ? ": executing " : e & 2 ? ": writing " : ": reading ");
            put(&l, e & 1 ? "a protected page" : "an unmapped page");
        }
        put(&l, ")");
    } else {
        put(&l, "(");
        put(&l, f->what ? f->what : "unknown");
        put(&l, ")");
    }
    put(&l, " at ip ");
    put_hex(&l, f->ip);
    if (f->has_address) {
        put(&l, ", address ");
        put_hex(&l, f->address);
    }
    if (f->has_error_code) {
        put(&l, ", error code ");
        put_hex(&l, f->error_code);
    }
    buf[l.len++] = '\n';
    return l.len;
}
