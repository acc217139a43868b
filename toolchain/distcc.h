/*
 * distcc.h - compiles of one build spread over distcc hosts (Debian
 * `distcc`, plain mode: preprocessing here, the compiler over there).
 *
 * What goes out: the compile of a C source to an object, run as
 * `distcc <the compiler's name> <the same argv>` inside the action's usual
 * sandbox, with the network shared for those actions only (the local half,
 * preprocessing, reads the workspace like any compile; the far half, cc1
 * and as on a distccd host, is that host's business). Assembly of .S
 * files, archive, link and strip stay here. A distributed compile's cache
 * key is that of the same compile run here: the wrapper is not part of it.
 *
 * Each host is one word of distcc's host syntax (HOSTID[:PORT][/LIMIT]
 * [,lzo]); mgd, not distcc, chooses the host of each compile (the least
 * busy one with a free slot of its /LIMIT), so every distcc process gets
 * DISTCC_HOSTS of exactly one host, DISTCC_FALLBACK=0 (it never compiles
 * here on its own) and DISTCC_SKIP_LOCAL_RETRY (a compiler error is the
 * compiler's answer). When distcc fails for its own reasons (exit 100 to
 * 127: connect failed, I/O error, host busy...), the build takes that host
 * off for its remaining compiles, runs the compile here itself and counts
 * a fallback; a compiler error (exit 1) fails the build with its message.
 *
 * The probe (mg_distcc_probe), at the start of mgd build and mgd serve:
 * for each target and arch they will build, a small source is compiled
 * with the flags of a real compile, here and through each host alone; a
 * host whose object is not byte for byte the local one, or that fails, is
 * dropped with one line saying why. A mismatched compiler would otherwise
 * put its objects in the cache under the local compiler's keys.
 *
 * The assembler's reads (.incbin and .include in inline assembly) happen on
 * the far side, where the workspace does not exist and its --MD file would
 * be written: the distributed argv leaves out `-Xassembler --MD
 * -Xassembler FILE`, and a source or header that names those directives is
 * compiled here instead (mg_distcc_asm_reads), so that the assembler's
 * inputs stay part of the key.
 */
#ifndef MG_TOOLCHAIN_DISTCC_H
#define MG_TOOLCHAIN_DISTCC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "targets/registry.h"
#include "toolchain/exec.h"

/* distcc's default /LIMIT of a TCP host */
#define MG_DISTCC_DEFAULT_LIMIT 4u
/* the largest /LIMIT mgd takes (and the most hosts) */
#define MG_DISTCC_MAX_LIMIT 256u
#define MG_DISTCC_MAX_HOSTS 64u

typedef struct mg_distcc_host {
    char *spec;     /* the host's word as given: its compiles' DISTCC_HOSTS */
    char *name;     /* HOSTID[:PORT], for messages */
    unsigned limit; /* compiles at once: its /LIMIT, else MG_DISTCC_DEFAULT_LIMIT */
} mg_distcc_host;

typedef struct mg_distcc_hosts {
    mg_distcc_host *v;
    size_t n;
} mg_distcc_hosts;

/* Parses a host list in distcc's syntax ("10.0.0.2:3632/4 10.0.0.3/4,lzo",
 * words separated by white space, '#' to the end of a line a comment) into
 * *out (zeroed first). Refused, with a message saying why: "localhost"
 * (distcc compiles those here: mgd does that anyway), SSH hosts (@host:
 * the sandbox has no keys), ,cpp (pump mode: mgd uses plain mode), ,auth,
 * +zeroconf, --randomize and --localslots (mgd places the compiles), and
 * any malformed word. An empty list is an error too. 0 or -1. */
int mg_distcc_parse(const char *text, mg_distcc_hosts *out, mg_err *err);
void mg_distcc_hosts_free(mg_distcc_hosts *h);
/* "10.0.0.2:3632, 10.0.0.3" (malloc'd). */
char *mg_distcc_hosts_text(const mg_distcc_hosts *h);

/* Whether a compile of `src` (a workspace path) may be distributed: C
 * sources; assembly (.S) stays here. */
bool mg_distcc_distributable(const char *src);

/* The argv of a distributed compile: `distcc`, the compiler's base name
 * (distccd runs only the names of its whitelist, /usr/lib/distcc), then
 * argv[1..] without the assembler's --MD and its file. The strings are
 * argv's but the first two; free the array with free(). */
const char **mg_distcc_argv(const char *distcc, const char *const *argv, size_t argc);

/* The environment of a distributed compile on `h`: `base` (NULL-terminated)
 * with PATH put first the folder of `cc` (so distcc's preprocessor is the
 * compiler the cache key names), plus the DISTCC_ variables; `state` is
 * distcc's own folder (DISTCC_DIR), which must exist. malloc'd strings in a
 * malloc'd array: mg_distcc_env_free. */
char **mg_distcc_env(const char *const *base, const mg_distcc_host *h, const char *cc,
                     const char *state);
void mg_distcc_env_free(char **env);

/* Whether a distributed compile ended by a failure of distcc itself, not of
 * the compiler: exit status 100 to 127 (distcc's own codes). */
bool mg_distcc_own_failure(const mg_exec_result *r);
/* What distcc's exit status means ("connect failed"), or NULL. */
const char *mg_distcc_exit_reason(int status);

/* Whether C text names the assembler's file reading directives (incbin,
 * .include): such a compile runs here, where the assembler's --MD lists
 * what it read. */
bool mg_distcc_asm_reads(const char *text, size_t len);

/* distcc on PATH, or NULL with a message saying what to install. malloc'd. */
char *mg_distcc_program(mg_err *err);

/* One target and arch a command will build. */
typedef struct mg_distcc_probe_target {
    const mg_target *target;
    const mg_target_arch *arch;
} mg_distcc_probe_target;

/* Receives the probe's lines ("distcc: host 10.0.0.3 dropped: ..."). */
typedef void (*mg_distcc_say_fn)(void *ctx, const char *line);

/* Probes `hosts` for every target and arch of `targets` (whose tools are
 * present): compiles the probe source here and through each host alone,
 * in the sandbox unless `no_sandbox`, and keeps in *kept (zeroed first) the
 * hosts whose object equals the local one for every target and arch. A
 * host dropped, and the outcome ("distcc: 2 hosts: ..." or "distcc: no
 * host left, compiles run here"), are told to `say`. 0 (with maybe no host
 * kept), or -1 when the probe itself cannot run (no distcc, no temporary
 * folder, the local compile fails): then *kept is empty and err says why. */
int mg_distcc_probe(const mg_distcc_hosts *hosts, const mg_distcc_probe_target *targets,
                    size_t n_targets, bool no_sandbox, mg_distcc_say_fn say, void *ctx,
                    mg_distcc_hosts *kept, mg_err *err);

#endif
