/*
 * tar_kv_ro.c - tar_kv_ro(block): a read-only store of the files of a tar
 * archive written on a block device from its first sector.
 *
 * Connect reads every header once and keeps a sorted index of the regular
 * files (path, size, where the data starts); values are read from the
 * device when asked. Formats: ustar (POSIX, with its prefix field), GNU
 * (long names in 'L' entries, base-256 sizes) and pax extended headers
 * ('x': path and size). Directories are implied by the paths, links and
 * special files are left out. A later entry for the same path replaces an
 * earlier one, as extracting the archive would.
 *
 * A value's version (an HTTP ETag) is the 64-bit FNV-1a hash of its bytes,
 * as crunch's: read through the device in bounded chunks the first time
 * it is asked, then kept. Offset, size and mtime are not enough: an
 * archive rebuilt with other bytes in the same layout keeps all three
 * (reproducible builds write mtime 0), and clients would keep stale bytes.
 *
 * The device is untrusted input: every header's checksum is verified,
 * every size is checked against the device before anything is read or
 * allocated, and a malformed archive fails connect with a message saying
 * what and where, never with a read outside the device. The archive ends
 * at a zero block (tar writes two; GNU tar also stops at the first) or at
 * the end of the device.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/kv_ro.h"

#define TAR_BLOCK 512
/* Bounds on what is read into memory: a name or an extended header longer
 * than this is a broken (or hostile) archive, not a real one. */
#define TAR_MAX_LONG_NAME (64u * 1024)
#define TAR_MAX_PAX (1024u * 1024)
/* The most read from the device at once to hash a value. */
#define TAR_HASH_CHUNK (64u * 1024)

typedef struct tar_entry {
    char *path; /* first: mg_kv_index reads it */
    uint64_t size;
    uint64_t offset;  /* of the data on the device, in bytes */
    size_t seq;       /* position in the archive, to keep the last of duplicates */
    uint64_t version; /* the hash of the bytes, once `hashed` */
    bool hashed;
} tar_entry;

typedef struct tar_kv_ro {
    mg_kv_ro kv; /* first: a mg_kv_ro * is a tar_kv_ro * */
    mg_block *block;
    mg_block_geometry geometry;
    unsigned char *sector; /* one sector, for reads that do not start or end on one */
    tar_entry *entries;
    size_t n;
} tar_kv_ro;

/* Reads bytes [offset, offset + len) of the device, which the caller knows
 * to be inside it. Whole sectors go straight into buf. */
static int read_bytes(tar_kv_ro *t, uint64_t offset, void *buf, size_t len)
{
    unsigned char *out = buf;
    uint32_t ss = t->geometry.sector_size;
    while (len) {
        uint64_t sector = offset / ss;
        size_t within = (size_t)(offset % ss);
        size_t n;
        int rc;
        if (within == 0 && len >= ss) {
            size_t count = len / ss;
            n = count * ss;
            rc = mg_block_read(t->block, sector, out, count);
        } else {
            n = ss - within < len ? ss - within : len;
            rc = mg_block_read(t->block, sector, t->sector, 1);
            if (rc == MG_OK) memcpy(out, t->sector + within, n);
        }
        if (rc != MG_OK) return rc;
        out += n;
        offset += n;
        len -= n;
    }
    return MG_OK;
}

static void free_entries(tar_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) free(entries[i].path);
    free(entries);
}

/* ---- the store */

static mg_kv_index tar_index(const tar_kv_ro *t)
{
    return (mg_kv_index){t->entries, t->n, sizeof t->entries[0]};
}

static int tar_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    const tar_kv_ro *t = (const tar_kv_ro *)kv;
    mg_kv_index ix = tar_index(t);
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, kind, &i);
    if (rc == MG_OK && *kind == MG_KV_VALUE) *size = t->entries[i].size;
    return rc;
}

/* Hashes the bytes of `e` from the device, a chunk at a time, so that a
 * large value needs no more memory than a chunk. On an error nothing is
 * kept and the next ask tries again. */
static int hash_entry(tar_kv_ro *t, tar_entry *e)
{
    size_t cap = e->size < TAR_HASH_CHUNK ? (size_t)e->size : TAR_HASH_CHUNK;
    unsigned char *chunk = malloc(cap ? cap : 1);
    if (!chunk) return MG_ENOMEM;
    uint64_t h = MG_KV_VERSION_SEED;
    int rc = MG_OK;
    for (uint64_t done = 0; done < e->size && rc == MG_OK;) {
        size_t n = e->size - done < cap ? (size_t)(e->size - done) : cap;
        /* connect checked that the data lies inside the device */
        rc = read_bytes(t, e->offset + done, chunk, n);
        if (rc == MG_OK) h = mg_kv_version_bytes(h, chunk, n);
        done += n;
    }
    free(chunk);
    if (rc == MG_OK) {
        e->version = h;
        e->hashed = true;
    }
    return rc;
}

static int tar_version(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                       uint64_t *version)
{
    tar_kv_ro *t = (tar_kv_ro *)kv;
    mg_kv_index ix = tar_index(t);
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, kind, &i);
    if (rc != MG_OK || *kind != MG_KV_VALUE) return rc;
    tar_entry *e = &t->entries[i];
    if (!e->hashed && (rc = hash_entry(t, e)) != MG_OK) return rc;
    *size = e->size;
    *version = e->version;
    return MG_OK;
}

static int tar_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                    size_t *n_read)
{
    tar_kv_ro *t = (tar_kv_ro *)kv;
    mg_kv_index ix = tar_index(t);
    mg_kv_kind kind;
    size_t i;
    int rc = mg_kv_index_stat(&ix, key, &kind, &i);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) return MG_EISDIR;
    const tar_entry *e = &t->entries[i];
    if (offset > e->size) return MG_ERANGE;
    if ((uint64_t)length > e->size - offset) length = (size_t)(e->size - offset);
    /* connect checked that the data lies inside the device */
    rc = read_bytes(t, e->offset + offset, buf, length);
    if (rc == MG_OK) *n_read = length;
    return rc;
}

static int tar_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    const tar_kv_ro *t = (const tar_kv_ro *)kv;
    mg_kv_index ix = tar_index(t);
    return mg_kv_index_list(&ix, key, fn, ctx);
}

static void tar_disconnect(mg_kv_ro *kv)
{
    tar_kv_ro *t = (tar_kv_ro *)kv;
    free_entries(t->entries, t->n);
    free(t->sector);
    free(t);
}

static const struct mg_kv_ro_ops tar_ops = {
    .stat = tar_stat,
    .read = tar_read,
    .list = tar_list,
    .disconnect = tar_disconnect,
    .version = tar_version,
};

/* ---- parsing headers */

/* Header fields: offsets and lengths from POSIX ustar. */
enum {
    H_NAME = 0,
    H_NAME_LEN = 100,
    H_SIZE = 124,
    H_SIZE_LEN = 12,
    H_CHKSUM = 148,
    H_CHKSUM_LEN = 8,
    H_TYPEFLAG = 156,
    H_MAGIC = 257,
    H_PREFIX = 345,
    H_PREFIX_LEN = 155,
};

/* A numeric field: octal digits, optionally led by spaces and ended by a
 * space or NUL; or (GNU) base-256 big-endian when the top bit of the first
 * byte is set. False if malformed, negative or over 64 bits. */
static bool parse_number(const unsigned char *f, size_t len, uint64_t *value)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] & 0x40) return false; /* negative */
        v = f[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v > UINT64_MAX >> 8) return false;
            v = v << 8 | f[i];
        }
        *value = v;
        return true;
    }
    size_t i = 0;
    while (i < len && f[i] == ' ') i++;
    size_t digits = 0;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v > UINT64_MAX >> 3) return false;
        v = v << 3 | (uint64_t)(f[i] - '0');
    }
    if (digits == 0) return false;
    if (i < len && f[i] != ' ' && f[i] != '\0') return false;
    *value = v;
    return true;
}

static bool checksum_ok(const unsigned char *h)
{
    uint64_t stored;
    if (!parse_number(h + H_CHKSUM, H_CHKSUM_LEN, &stored)) return false;
    /* The sum of the header's bytes with the checksum field as spaces.
     * Some old tars summed signed chars: accept either. */
    uint64_t usum = 0;
    int64_t ssum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        bool in_field = i >= H_CHKSUM && i < H_CHKSUM + H_CHKSUM_LEN;
        unsigned char c = in_field ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    return stored == usum || (ssum >= 0 && stored == (uint64_t)ssum);
}

static bool all_zero(const unsigned char *h)
{
    for (size_t i = 0; i < TAR_BLOCK; i++)
        if (h[i]) return false;
    return true;
}

static size_t field_len(const unsigned char *f, size_t max)
{
    const unsigned char *nul = memchr(f, '\0', max);
    return nul ? (size_t)(nul - f) : max;
}

/* A tar member name as a store key: leading '/', "." and empty segments
 * are dropped (tar -C dir . writes "./a.txt"); ".." is refused, as
 * extracting tars refuse it. Returns a new string, or NULL with *rc set. */
static char *tar_key(const char *name, size_t len, int *rc)
{
    char *key = malloc(len + 1);
    if (!key) {
        *rc = MG_ENOMEM;
        return NULL;
    }
    size_t n = 0, i = 0;
    while (i < len) {
        if (name[i] == '/') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && name[i] != '/') i++;
        size_t seg = i - start;
        if (seg == 1 && name[start] == '.') continue;
        if (seg == 2 && name[start] == '.' && name[start + 1] == '.') {
            free(key);
            *rc = MG_EINVAL;
            return NULL;
        }
        if (n) key[n++] = '/';
        memcpy(key + n, name + start, seg);
        n += seg;
    }
    key[n] = '\0';
    if (!n) {
        free(key);
        *rc = MG_EINVAL;
        return NULL;
    }
    return key;
}

/* The state of a parse; `why` and `at` describe the first error. */
typedef struct parser {
    tar_kv_ro *t;
    uint64_t capacity;
    const char *why;
    uint64_t at;
    char *long_name; /* from a GNU 'L' entry, for the next file */
    char *pax_path;  /* from a pax 'x' entry, for the next file */
    uint64_t pax_size;
    bool has_pax_size;
    size_t cap;
} parser;

static void clear_pending(parser *p)
{
    free(p->long_name);
    free(p->pax_path);
    p->long_name = p->pax_path = NULL;
    p->has_pax_size = false;
}

static int fail(parser *p, uint64_t at, const char *why)
{
    p->why = why;
    p->at = at;
    return MG_EINVAL;
}

/* Reads the `size` bytes of an entry's data at `offset` into a new,
 * NUL-terminated buffer. */
static int read_data(parser *p, uint64_t offset, uint64_t size, char **out)
{
    char *buf = malloc((size_t)size + 1);
    if (!buf) return MG_ENOMEM;
    int rc = read_bytes(p->t, offset, buf, (size_t)size);
    if (rc != MG_OK) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *out = buf;
    return MG_OK;
}

/* Parses pax records "LEN KEY=VALUE\n" and keeps path and size. */
static int parse_pax(parser *p, uint64_t at, const char *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        size_t len = 0, j = i;
        while (j < size && data[j] >= '0' && data[j] <= '9' && len < size) {
            len = len * 10 + (size_t)(data[j] - '0');
            j++;
        }
        if (j == i || j >= size || data[j] != ' ' || len > size - i || len < j - i + 2 ||
            data[i + len - 1] != '\n')
            return fail(p, at, "malformed pax extended header");
        const char *kv = data + j + 1, *end = data + i + len - 1;
        const char *eq = memchr(kv, '=', (size_t)(end - kv));
        if (!eq) return fail(p, at, "malformed pax extended header");
        size_t klen = (size_t)(eq - kv), vlen = (size_t)(end - eq - 1);
        if (klen == 4 && !memcmp(kv, "path", 4)) {
            char *v = malloc(vlen + 1);
            if (!v) return MG_ENOMEM;
            memcpy(v, eq + 1, vlen);
            v[vlen] = '\0';
            free(p->pax_path);
            p->pax_path = v;
        } else if (klen == 4 && !memcmp(kv, "size", 4)) {
            uint64_t s = 0;
            if (vlen == 0) return fail(p, at, "malformed pax size");
            for (const char *c = eq + 1; c < end; c++) {
                if (*c < '0' || *c > '9' || s > (UINT64_MAX - 9) / 10)
                    return fail(p, at, "malformed pax size");
                s = s * 10 + (uint64_t)(*c - '0');
            }
            p->pax_size = s;
            p->has_pax_size = true;
        }
        i += len;
    }
    return MG_OK;
}

static int add_entry(parser *p, char *path, uint64_t size, uint64_t offset)
{
    tar_kv_ro *t = p->t;
    if (t->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        tar_entry *grown =
            cap <= SIZE_MAX / sizeof *grown ? realloc(t->entries, cap * sizeof *grown) : NULL;
        if (!grown) {
            free(path);
            return MG_ENOMEM;
        }
        t->entries = grown;
        p->cap = cap;
    }
    t->entries[t->n] = (tar_entry){path, size, offset, t->n, 0, false};
    t->n++;
    return MG_OK;
}

/* One header at `pos`; *next is where the following one starts, or the
 * capacity at the end of the archive. */
static int parse_header(parser *p, uint64_t pos, uint64_t *next)
{
    unsigned char h[TAR_BLOCK];
    if (p->capacity - pos < TAR_BLOCK) return fail(p, pos, "the device ends inside a header");
    int rc = read_bytes(p->t, pos, h, TAR_BLOCK);
    if (rc != MG_OK) return rc;
    if (all_zero(h)) {
        if (p->long_name || p->pax_path)
            return fail(p, pos, "truncated: an extended header names no entry");
        *next = p->capacity;
        return MG_OK;
    }
    if (!checksum_ok(h)) return fail(p, pos, "bad header checksum");
    uint64_t size;
    if (!parse_number(h + H_SIZE, H_SIZE_LEN, &size)) return fail(p, pos, "bad size field");
    char type = (char)h[H_TYPEFLAG];
    bool regular = type == '0' || type == '\0' || type == '7';
    if (regular && p->has_pax_size) size = p->pax_size;
    uint64_t data = pos + TAR_BLOCK;
    if (size > p->capacity - data)
        return fail(p, pos, "an entry's data runs past the end of the device");
    uint64_t padded = size + (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    *next = padded > p->capacity - data ? p->capacity : data + padded;

    if (type == 'L') { /* GNU: the next entry's name */
        if (size > TAR_MAX_LONG_NAME) return fail(p, pos, "long name too long");
        char *name;
        if ((rc = read_data(p, data, size, &name)) != MG_OK) return rc;
        free(p->long_name);
        p->long_name = name;
        return MG_OK;
    }
    if (type == 'x') { /* pax: attributes of the next entry */
        if (size > TAR_MAX_PAX) return fail(p, pos, "pax extended header too long");
        char *pax;
        if ((rc = read_data(p, data, size, &pax)) != MG_OK) return rc;
        rc = parse_pax(p, pos, pax, (size_t)size);
        free(pax);
        return rc;
    }
    if (type == 'K' || type == 'g') return MG_OK; /* long link name, global pax: unused */
    if (!regular) { /* directories are implied; links and devices are left out */
        clear_pending(p);
        return MG_OK;
    }

    char *key;
    if (p->pax_path) {
        key = tar_key(p->pax_path, strlen(p->pax_path), &rc);
    } else if (p->long_name) {
        key = tar_key(p->long_name, strlen(p->long_name), &rc);
    } else {
        /* ustar: prefix "/" name, unless GNU's magic says the prefix field
         * holds other things. */
        char full[H_PREFIX_LEN + 1 + H_NAME_LEN + 1];
        size_t n = 0;
        if (!memcmp(h + H_MAGIC, "ustar\0", 6)) {
            size_t plen = field_len(h + H_PREFIX, H_PREFIX_LEN);
            memcpy(full, h + H_PREFIX, plen);
            n = plen;
            if (plen) full[n++] = '/';
        }
        size_t nlen = field_len(h + H_NAME, H_NAME_LEN);
        memcpy(full + n, h + H_NAME, nlen);
        n += nlen;
        key = tar_key(full, n, &rc);
    }
    clear_pending(p);
    if (!key) return rc == MG_EINVAL ? fail(p, pos, "a file name is empty or contains \"..\"") : rc;
    return add_entry(p, key, size, data);
}

/* Path order, then archive order among duplicates. */
static bool entry_less(const tar_entry *a, const tar_entry *b)
{
    int c = strcmp(a->path, b->path);
    return c ? c < 0 : a->seq < b->seq;
}

static void sift_down(tar_entry *e, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && entry_less(&e[child], &e[child + 1])) child++;
        if (!entry_less(&e[root], &e[child])) return;
        tar_entry tmp = e[root];
        e[root] = e[child];
        e[child] = tmp;
    }
}

/* Heapsort: qsort is not in the runtime's freestanding C library, and this
 * is O(n log n) with no allocation. */
static void sort_entries(tar_entry *e, size_t n)
{
    for (size_t i = n / 2; i-- > 0;) sift_down(e, i, n);
    for (size_t end = n; end > 1; end--) {
        tar_entry tmp = e[0];
        e[0] = e[end - 1];
        e[end - 1] = tmp;
        sift_down(e, 0, end - 1);
    }
}

/* Sorts the index, keeps the last of duplicate paths and refuses a path
 * that is both a file and a directory; *bad names it. */
static bool finish_index(tar_kv_ro *t, const char **bad)
{
    sort_entries(t->entries, t->n);
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i + 1 < t->n && !strcmp(t->entries[i].path, t->entries[i + 1].path)) {
            free(t->entries[i].path); /* replaced by a later entry */
            continue;
        }
        t->entries[w++] = t->entries[i];
    }
    t->n = w;
    mg_kv_index ix = tar_index(t);
    for (size_t i = 0; i < t->n; i++) {
        /* a value "a" with "a/..." after it, not necessarily right after */
        const char *path = t->entries[i].path;
        size_t j = mg_kv_index_lower_bound(&ix, path, '/');
        size_t len = strlen(path);
        if (j < t->n && !strncmp(t->entries[j].path, path, len) && t->entries[j].path[len] == '/') {
            *bad = path;
            return false;
        }
    }
    return true;
}

int mg_tar_kv_ro_connect(mg_kv_ro **out, mg_block *block)
{
    if (!block) {
        mg_printf("tar_kv_ro: no block device\n");
        return MG_EINVAL;
    }
    const char *name = mg_block_name(block);
    tar_kv_ro *t = calloc(1, sizeof *t);
    if (!t) {
        mg_printf("tar_kv_ro on %s: out of memory\n", name);
        return MG_ENOMEM;
    }
    t->kv.ops = &tar_ops;
    t->block = block;
    mg_block_get_info(block, &t->geometry);
    uint32_t ss = t->geometry.sector_size;
    if (ss == 0 || t->geometry.n_sectors > UINT64_MAX / ss) {
        mg_printf("tar_kv_ro on %s: unusable block geometry\n", name);
        free(t);
        return MG_EINVAL;
    }
    t->sector = malloc(ss);
    if (!t->sector) {
        mg_printf("tar_kv_ro on %s: out of memory\n", name);
        free(t);
        return MG_ENOMEM;
    }
    parser p = {.t = t, .capacity = t->geometry.n_sectors * ss};
    int rc = MG_OK;
    for (uint64_t pos = 0; pos < p.capacity && rc == MG_OK;) {
        uint64_t next = p.capacity;
        rc = parse_header(&p, pos, &next);
        pos = next;
    }
    if (rc == MG_OK && (p.long_name || p.pax_path))
        rc = fail(&p, p.capacity, "truncated: an extended header names no entry");
    clear_pending(&p);
    const char *bad = NULL;
    if (rc == MG_OK && !finish_index(t, &bad)) {
        mg_printf("tar_kv_ro on %s: malformed archive: \"%s\" is both a file and a directory\n",
                  name, bad);
        rc = MG_EINVAL;
    } else if (rc != MG_OK && p.why) {
        mg_printf("tar_kv_ro on %s: malformed archive: %s (header at byte %llu)\n", name, p.why,
                  (unsigned long long)p.at);
    } else if (rc != MG_OK) {
        mg_printf("tar_kv_ro on %s: cannot read the archive: %s\n", name, mg_strerror(rc));
    }
    if (rc != MG_OK) {
        tar_disconnect(&t->kv);
        return rc;
    }
    *out = &t->kv;
    return MG_OK;
}
