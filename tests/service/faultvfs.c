/*
 * faultvfs.c - the fault-injecting SQLite VFS of the tests (faultvfs.h).
 *
 * A file of this VFS is the real VFS's file placed right after our own
 * header (szOsFile is the sum of both); every method forwards to the real
 * one, after the four counted methods asked whether this call is the one
 * to fail.
 */
#include "faultvfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

typedef struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* right after this struct, in the same allocation */
} fault_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

/* Arming state: written by the armed thread, read by every thread that
 * does I/O (only the armed thread's calls count, so the rest is its own). */
static atomic_bool armed;
static pthread_t armed_thread;
static unsigned armed_n, armed_count, armed_fired;
static bool armed_persistent;
static fault_kind armed_kind;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static fault_stats stats;

enum method { M_READ, M_WRITE, M_SYNC, M_TRUNCATE };

/* SQLITE_OK, or the error this call must fail with. */
static int fault_check(enum method m)
{
    if (!atomic_load(&armed) || !pthread_equal(pthread_self(), armed_thread)) return SQLITE_OK;
    /* a full disk fails writes; reads, syncs and truncations go through */
    if (armed_kind == FAULT_FULL && m != M_WRITE) return SQLITE_OK;
    armed_count++;
    pthread_mutex_lock(&stats_lock);
    unsigned long *counter[] = {&stats.reads, &stats.writes, &stats.syncs, &stats.truncates};
    (*counter[m])++;
    pthread_mutex_unlock(&stats_lock);
    if (armed_count < armed_n || (armed_count > armed_n && !armed_persistent)) return SQLITE_OK;
    armed_fired++;
    pthread_mutex_lock(&stats_lock);
    stats.injected++;
    pthread_mutex_unlock(&stats_lock);
    if (armed_kind == FAULT_FULL) return SQLITE_FULL;
    static const int codes[] = {SQLITE_IOERR_READ, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC,
                                SQLITE_IOERR_TRUNCATE};
    return codes[m];
}

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((fault_file *)f)->real;
}

static int f_close(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    f->pMethods = NULL;
    return rc;
}

static int f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    int rc = fault_check(M_READ);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *r = real_of(f);
    return r->pMethods->xRead(r, buf, amt, off);
}

static int f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    int rc = fault_check(M_WRITE);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *r = real_of(f);
    return r->pMethods->xWrite(r, buf, amt, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fault_check(M_TRUNCATE);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *r = real_of(f);
    return r->pMethods->xTruncate(r, size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    int rc = fault_check(M_SYNC);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSync(r, flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFileSize(r, size);
}

static int f_lock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xLock(r, level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xUnlock(r, level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFileControl(r, op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSectorSize(r);
}

static int f_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

static int f_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **p)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmMap(r, region, size, extend, p);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmLock(r, offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    r->pMethods->xShmBarrier(r);
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmUnmap(r, delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **p)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFetch(r, off, amt, p);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xUnfetch(r, off, p);
}

/* One table per version of the real file's methods: SQLite asks a file
 * for the shared-memory (2) and memory-map (3) methods by its version, so
 * ours must not claim more than the real file has. */
#define FAULT_METHODS(v)                                                                           \
    {                                                                                              \
        v, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,            \
            f_check_reserved, f_file_control, f_sector_size, f_device_characteristics,             \
            v >= 2 ? f_shm_map : NULL, v >= 2 ? f_shm_lock : NULL, v >= 2 ? f_shm_barrier : NULL,  \
            v >= 2 ? f_shm_unmap : NULL, v >= 3 ? f_fetch : NULL, v >= 3 ? f_unfetch : NULL        \
    }
static const sqlite3_io_methods methods_v1 = FAULT_METHODS(1);
static const sqlite3_io_methods methods_v2 = FAULT_METHODS(2);
static const sqlite3_io_methods methods_v3 = FAULT_METHODS(3);

static int f_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags)
{
    (void)vfs;
    fault_file *f = (fault_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    memset(f->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* SQLite closes a file whose pMethods is set, even after a failed open */
    const sqlite3_io_methods *rm = f->real->pMethods;
    if (!rm)
        f->base.pMethods = NULL;
    else
        f->base.pMethods = rm->iVersion >= 3   ? &methods_v3
                           : rm->iVersion == 2 ? &methods_v2
                                               : &methods_v1;
    return rc;
}

int faultvfs_install(void)
{
    if (real_vfs) return SQLITE_OK;
    int rc = sqlite3_initialize();
    if (rc != SQLITE_OK) return rc;
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);
    if (!def) return SQLITE_ERROR;
    /* every method but xOpen is the real one's, called with our struct:
     * it carries the real one's pAppData and mxPathname, all they read */
    fault_vfs = *def;
    fault_vfs.pNext = NULL;
    fault_vfs.zName = "mgd-fault";
    fault_vfs.szOsFile = (int)sizeof(fault_file) + def->szOsFile;
    fault_vfs.xOpen = f_open;
    real_vfs = def;
    rc = sqlite3_vfs_register(&fault_vfs, 1);
    if (rc != SQLITE_OK) real_vfs = NULL;
    return rc;
}

void faultvfs_arm(unsigned n, bool persistent, fault_kind kind)
{
    armed_thread = pthread_self();
    armed_n = n;
    armed_count = armed_fired = 0;
    armed_persistent = persistent;
    armed_kind = kind;
    atomic_store(&armed, true);
}

unsigned faultvfs_disarm(void)
{
    atomic_store(&armed, false);
    return armed_fired;
}

void faultvfs_stats(fault_stats *out)
{
    pthread_mutex_lock(&stats_lock);
    *out = stats;
    pthread_mutex_unlock(&stats_lock);
}
