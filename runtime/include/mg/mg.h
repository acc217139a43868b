/*
 * mg.h - the core of the mgd runtime: status codes, console printing, the
 * event loop's entry and exit. Every image links it, on every target.
 *
 * Statuses: functions of the runtime return 0 (MG_OK) on success or one of
 * the MG_E* codes below; mg_strerror() gives a message for each. The
 * generated main.c prints that message when a device fails to connect, so
 * a connect function that can say more (which file, which key) prints the
 * details itself with mg_printf before returning.
 *
 * The image runs as a single-threaded event loop (mg/loop.h): mg_run()
 * returns when no work is pending (no timer, no watched handle, nothing
 * held) with status 0, or as soon as the loop notices mg_exit(status).
 *
 * This header is included by the generated main.c, which is ISO C11, so it
 * uses nothing beyond standard C (GNU attributes only under __GNUC__).
 */
#ifndef MG_MG_H
#define MG_MG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MG_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define MG_PRINTF_LIKE(f, a)
#endif

/* Statuses shared by every device library. Values are part of the ABI. */
enum {
    MG_OK = 0,
    MG_EINVAL = 1,        /* invalid argument */
    MG_ENOENT = 2,        /* not found */
    MG_EIO = 3,           /* input/output error */
    MG_ENOMEM = 4,        /* out of memory */
    MG_ENOSPC = 5,        /* no space left on the device */
    MG_ERANGE = 6,        /* out of range (a sector past the end, a value too large) */
    MG_EUNSUPPORTED = 7,  /* not supported by this target or device */
    MG_EISDIR = 8,        /* is a directory (a kv key names a dictionary) */
    MG_ENOTDIR = 9,       /* not a directory */
    MG_EEXIST = 10,       /* already exists */
    MG_EACCES = 11,       /* permission denied (a read-only device written) */
    MG_EAGAIN = 12,       /* try again later (no data ready, a buffer full) */
    MG_ECONNRESET = 13,   /* the peer reset the connection */
    MG_ECONNREFUSED = 14, /* nothing listens on the peer's port */
    MG_ETIMEDOUT = 15,    /* no answer in time (a connect, a lease, retransmissions) */
    MG_EADDRINUSE = 16,   /* the address or port is already taken */
    MG_ENOTCONN = 17,     /* not connected (a flow shut down or closed) */
    MG_ESTATUS_MAX = 18
};

/* An IPv4 address (host order) with a prefix length, as `10.0.0.2/24`. */
typedef struct mg_ipv4_prefix {
    uint32_t address;
    uint8_t length;
} mg_ipv4_prefix;

/* Formats like printf and writes the result to the platform console.
 * Returns the length of the formatted text, or a negative value when it
 * cannot be formatted. (The console itself reports no errors.) */
int mg_printf(const char *fmt, ...) MG_PRINTF_LIKE(1, 2);
int mg_vprintf(const char *fmt, va_list ap) MG_PRINTF_LIKE(1, 0);

/* Formats like vsnprintf into `buf` (`size` bytes) when the result fits,
 * else into a new malloc'd string, so callers format without a fixed limit
 * and usually without allocating. Returns `buf`, the new string (the caller
 * frees it when it is not `buf`), or NULL (bad format, out of memory); the
 * length goes to *len. */
char *mg_vformat(char *buf, size_t size, size_t *len, const char *fmt, va_list ap)
    MG_PRINTF_LIKE(4, 0);

/* The message of a status: "not found" for MG_ENOENT. Never NULL. */
const char *mg_strerror(int status);

/* Runs the event loop until no work is pending or mg_exit() is called;
 * returns the image's exit status. The generated main() returns it. */
int mg_run(void);

/* Asks the event loop to stop after the current callback with `status`.
 * The first call wins. Outside mg_run (while connecting) it makes mg_run
 * return at once. */
void mg_exit(int status);

#endif
