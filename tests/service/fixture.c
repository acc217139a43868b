/*
 * fixture.c - a service on a fresh store for each test (fixture.h).
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "runtime/include/abi/image_note.h"
#include "toolchain/build.h"
#include "toolchain/image.h"
#include "targets/builtin_catalog.h"

fixture fx;
const char *fixture_base = "/tmp";

void fixture_setup(void)
{
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "%s/mgd-service-XXXXXX", fixture_base);
    cr_assert_not_null(mkdtemp(fx.dir));
    fx.db_path = mg_path_join(fx.dir, "mgd.sqlite3");
    char *cache_dir = mg_path_join(fx.dir, "cache");
    mg_err cerr = {0};
    fx.cache = mg_cache_open(cache_dir, &cerr);
    free(cache_dir);
    cr_assert_not_null(fx.cache, "%s", cerr.msg);
    mg_errors errs = {0};
    fx.catalog = mg_builtin_catalog_load(&errs);
    mg_errors_free(&errs);
    cr_assert_not_null(fx.catalog);
    mg_err targets_err;
    fx.targets = mg_targets_load(&targets_err);
    cr_assert_not_null(fx.targets, "%s", targets_err.msg);
    fixture_reopen();
}

void fixture_reopen(void)
{
    mg_err serr = {0};
    fx.store = mg_store_open(fx.db_path, true, &serr);
    cr_assert_not_null(fx.store, "%s", serr.msg);
    mg_queue_options qo = {
        .store = fx.store,
        .cache = fx.cache,
        .catalog = fx.catalog,
        .targets = fx.targets,
        .data_dir = fx.dir,
        .no_workers = true,
    };
    fx.queue = mg_queue_start(&qo, &serr);
    cr_assert_not_null(fx.queue, "%s", serr.msg);
    mg_service_init(&fx.svc, &(mg_service_options){
                                 .store = fx.store,
                                 .queue = fx.queue,
                                 .catalog = fx.catalog,
                                 .targets = fx.targets,
                             });
}

void fixture_teardown(void)
{
    mg_queue_stop(fx.queue);
    mg_store_close(fx.store);
    mg_cache_close(fx.cache);
    mg_catalog_free(fx.catalog);
    mg_targets_free(fx.targets);
    mg_rm_rf(fx.dir);
    free(fx.db_path);
}

cJSON *printer_config(const char *name)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"mgd\": 1, \"name\": \"%s\", \"devices\": {\"main\": {\"main\": \"app_start\","
             " \"type\": \"console -> job\", \"sources\": [\"unikernel.c\"]}},"
             " \"jobs\": [{\"apply\": \"main\", \"to\": [\"default_console\"]}]}",
             name);
    cJSON *c = cJSON_Parse(text);
    cr_assert_not_null(c);
    return c;
}

cJSON *printer_sources(void)
{
    cJSON *s = cJSON_Parse("{\"unikernel.c\": \"int app_start(void *console) { return 0; }\\n\"}");
    cr_assert_not_null(s);
    return s;
}

mg_project make_project(const char *name, const char *repo_url)
{
    cJSON *config = printer_config(name);
    cJSON *sources = repo_url ? NULL : printer_sources();
    cJSON *repo = NULL;
    if (repo_url) {
        repo = cJSON_CreateObject();
        cJSON_AddStringToObject(repo, "url", repo_url);
    }
    mg_project_spec spec = {.name = name, .config = config, .repo = repo, .sources = sources};
    mg_service_err e = {0};
    mg_project p;
    int rc = mg_service_project_create(&fx.svc, &spec, &p, &e);
    cr_assert_eq(rc, 0, "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(config);
    cJSON_Delete(sources);
    cJSON_Delete(repo);
    return p;
}

void own_identity(char out[MG_SHA256_HEX_SIZE])
{
    const mg_target *t = mg_targets_find(fx.targets, "unix");
    cr_assert_not_null(t);
    const mg_target_arch *a = mg_target_find_arch(t, "x86_64");
    cr_assert_not_null(a);
    mg_err e;
    char *id = mg_toolchain_identity(fx.cache, a, &e);
    cr_assert_not_null(id, "%s", e.msg);
    snprintf(out, MG_SHA256_HEX_SIZE, "%s", id);
    free(id);
}

cJSON *claim_body(const char *name, int wait_ms, const char *toolchain)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"%s\",\"slots\":1,\"wait_ms\":%d,\"platforms\":[{\"target\":\"unix\","
             "\"arch\":\"x86_64\",\"toolchain\":\"%s\"}]}",
             name, wait_ms, toolchain);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s", text);
    return j;
}

void put_worker_image(const char *name, char sha[MG_SHA256_HEX_SIZE], size_t *size)
{
    char desc[256];
    snprintf(desc, sizeof desc, "%sname %s\ntarget unix\narch x86_64\nabi 1\n",
             MG_IMAGE_NOTE_FIRST_LINE, name);
    size_t desc_len = strlen(desc) + 1;
    unsigned char buf[1024] = {0};
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = sizeof *eh;
    eh->e_ehsize = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    /* one PT_NOTE segment with the one note */
    size_t off = sizeof *eh + sizeof(Elf64_Phdr), p = off;
    uint32_t nh[3] = {sizeof MG_IMAGE_NOTE_NAME, (uint32_t)desc_len, MG_IMAGE_NOTE_TYPE};
    memcpy(buf + p, nh, sizeof nh);
    p += sizeof nh;
    memcpy(buf + p, MG_IMAGE_NOTE_NAME, sizeof MG_IMAGE_NOTE_NAME);
    p += (sizeof MG_IMAGE_NOTE_NAME + 3) & ~3u;
    memcpy(buf + p, desc, desc_len);
    p += (desc_len + 3) & ~(size_t)3;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof *eh);
    ph->p_type = PT_NOTE;
    ph->p_offset = off;
    ph->p_filesz = ph->p_memsz = p - off;
    ph->p_align = 4;
    cr_assert_leq(p, sizeof buf);
    mg_err e;
    cr_assert_eq(mg_cache_blob_put_bytes(fx.cache, buf, p, sha, &e), 0, "%s", e.msg);
    *size = p;
    /* what the queue checks, checked here: a test of it must not pass
     * for an image it refuses */
    char *path = mg_cache_blob_path(fx.cache, sha);
    mg_image_info info = {0};
    cr_assert_eq(mg_image_read_info(path, &info, &e), 0, "%s", e.msg);
    cr_assert_str_eq(info.target, "unix");
    mg_image_info_free(&info);
    free(path);
}

void inject_store_failure(const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(fx.db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}
