/*
 * distcc.h - compiles of one build spread over distcc hosts (Debian
 * `distcc`, plain mode: preprocessing here, the compiler over there).
 *
 * What goes out: the compiler proper, nothing else. A distributed compile
 * of a C source is two processes, both in the action's usual sandbox:
 *   1. `distcc <the compiler's name> <flags> -MD -MF DEP -S src -o TMP.s`,
 *      with the network shared for this process only: distcc preprocesses
 *      here (the workspace's files, gcc's depfile written here) and sends
 *      the preprocessed text; the host's distccd runs cc1 on it and sends
 *      back assembly text;
 *   2. `<cc> <flags> -Xassembler --MD -Xassembler AS_DEP -c TMP.s -o OBJ`,
 *      here, without the network: the local driver runs the assembler with
 *      the options a local compile gives it, so an .incbin or .include in
 *      inline assembly reads here, what a local compile would read, and
 *      the assembler's --MD lists it for the key.
 * The object is byte for byte the one-process local compile's (the probe
 * checks it, for every target and arch, with the real flags). Assembly of
 * .S files, archive, link and strip stay here. A distributed compile's
 * cache key is that of the same compile run here: the wrapper and the
 * split are not part of it.
 *
 * Each host is one word of distcc's host syntax (HOSTID[:PORT][/LIMIT]
 * [,lzo]); mgd, not distcc, chooses the host of each compile (the least
 * busy one with a free slot of its /LIMIT), so every distcc process gets
 * DISTCC_HOSTS of exactly one host, DISTCC_FALLBACK=0 (it never compiles
 * here on its own) and DISTCC_SKIP_LOCAL_RETRY (a compiler error is the
 * compiler's answer). When distcc fails for its own reasons (exit 100 to
 * 127: connect failed, I/O error, host busy...) or step 1 reaches the
 * action's time limit (a host that hangs), the build takes that host
 * off for its remaining compiles, runs the whole compile here itself and
 * counts a fallback; a compiler error (exit 1) fails the build with its
 * message, and so does an assembler error of step 2.
 *
 * The probe (mg_distcc_probe), at the start of mgd build and mgd serve:
 * for each target and arch they will build, a small source is compiled
 * with the flags of a real compile, here in one process and through each
 * host alone in the two steps above; a host whose object is not byte for
 * byte the local one, or that fails, is dropped with one line saying why.
 * A mismatched compiler would otherwise put its objects in the cache under
 * the local compiler's keys.
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

/* The two steps of a distributed compile whose argv (argc words) ends as
 * mg_build_compile_argv's, `... -MD -MF DEP -Xassembler --MD -Xassembler
 * AS_DEP -c SRC -o OBJ`, with `asm` the assembly text between them (a
 * workspace path in the object's folder):
 *   mg_distcc_cc1_argv: `distcc`, the compiler's base name (distccd runs
 *   only the names of its whitelist, /usr/lib/distcc), the flags, `-MD -MF
 *   DEP -S SRC -o asm`;
 *   mg_distcc_as_argv: argv[0], the flags, `-Xassembler --MD -Xassembler
 *   AS_DEP -c asm -o OBJ`.
 * The strings are argv's and asm, but for distcc's name; free the array
 * with free(). NULL when argv does not end that way. */
const char **mg_distcc_cc1_argv(const char *distcc, const char *const *argv, size_t argc,
                                const char *asm_file);
const char **mg_distcc_as_argv(const char *const *argv, size_t argc, const char *asm_file);

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
