/* Unit tests of the block devices (mg/block.h): ramdisk, and block_of_file
 * over the unix platform's host files. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/platform.h"
#include "mg/block.h"

Test(ramdisk, geometry_rounds_up_and_is_zero_filled)
{
    mg_block *b = NULL;
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", 1000), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert_eq(g.sector_size, 512);
    cr_assert_eq(g.n_sectors, 2);
    cr_assert(g.read_write);
    cr_assert_str_eq(mg_block_name(b), "rd");
    unsigned char buf[1024];
    memset(buf, 0xAA, sizeof buf);
    cr_assert_eq(mg_block_read(b, 0, buf, 2), MG_OK);
    for (size_t i = 0; i < sizeof buf; i++) cr_assert_eq(buf[i], 0, "byte %zu", i);
    mg_block_disconnect(b);
}

Test(ramdisk, write_then_read_back)
{
    mg_block *b = NULL;
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", 8 * 512), MG_OK);
    unsigned char out[3 * 512], in[3 * 512];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (unsigned char)(i * 7 + 3);
    cr_assert_eq(mg_block_write(b, 4, out, 3), MG_OK);
    cr_assert_eq(mg_block_read(b, 4, in, 3), MG_OK);
    cr_assert_arr_eq(in, out, sizeof in);
    /* one sector inside what was written, and its neighbour untouched */
    cr_assert_eq(mg_block_read(b, 5, in, 1), MG_OK);
    cr_assert_arr_eq(in, out + 512, 512);
    cr_assert_eq(mg_block_read(b, 3, in, 1), MG_OK);
    for (size_t i = 0; i < 512; i++) cr_assert_eq(in[i], 0);
    mg_block_disconnect(b);
}

Test(ramdisk, out_of_range_is_refused_and_changes_nothing)
{
    mg_block *b = NULL;
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", 4 * 512), MG_OK);
    unsigned char buf[2 * 512];
    memset(buf, 0x55, sizeof buf);
    cr_assert_eq(mg_block_read(b, 4, buf, 1), MG_ERANGE);
    cr_assert_eq(mg_block_read(b, 3, buf, 2), MG_ERANGE);
    cr_assert_eq(mg_block_write(b, 3, buf, 2), MG_ERANGE);
    cr_assert_eq(mg_block_read(b, UINT64_MAX, buf, 1), MG_ERANGE);
    cr_assert_eq(mg_block_read(b, 1, buf, SIZE_MAX), MG_ERANGE);
    /* the refused write did not touch the last sector */
    cr_assert_eq(mg_block_read(b, 3, buf, 1), MG_OK);
    for (size_t i = 0; i < 512; i++) cr_assert_eq(buf[i], 0);
    /* empty transfers succeed, even at the end; NULL buffers do not */
    cr_assert_eq(mg_block_read(b, 4, buf, 0), MG_OK);
    cr_assert_eq(mg_block_read(b, 5, buf, 0), MG_ERANGE);
    cr_assert_eq(mg_block_read(b, 0, NULL, 1), MG_EINVAL);
    mg_block_disconnect(b);
}

Test(ramdisk, invalid_sizes)
{
    mg_block *b = NULL;
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", 0), MG_EINVAL);
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", -1), MG_EINVAL);
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", INT64_MAX), MG_EINVAL);
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", MG_RAMDISK_MAX_SIZE + 1), MG_EINVAL);
    cr_assert_null(b, "a failing connect leaves the handle alone");
    cr_assert_eq(mg_ramdisk_connect(&b, "rd", 1), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert_eq(g.n_sectors, 1);
    mg_block_disconnect(b);
}

/* A temporary directory with the file `name` of `size` bytes, each byte
 * its offset mod 251. The test runs in it. */
static char tmpdir[64];

static void make_disk(const char *name, size_t size)
{
    strcpy(tmpdir, "/tmp/mg-test-block-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (unsigned char)(i % 251);
    cr_assert_eq(write(fd, data, size), (ssize_t)size);
    free(data);
    close(fd);
}

static void remove_disk(const char *name)
{
    unlink(name);
    cr_assert_eq(chdir("/"), 0);
    rmdir(tmpdir);
}

Test(block_of_file, reads_and_writes_the_host_file)
{
    make_disk("disk", 8 * 512);
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "disk"), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert_eq(g.sector_size, 512);
    cr_assert_eq(g.n_sectors, 8);
    unsigned char buf[2 * 512];
    cr_assert_eq(mg_block_read(b, 3, buf, 2), MG_OK);
    for (size_t i = 0; i < sizeof buf; i++) cr_assert_eq(buf[i], (3 * 512 + i) % 251);

    memset(buf, 0xC3, 512);
    cr_assert_eq(mg_block_write(b, 7, buf, 1), MG_OK);
    cr_assert_eq(mg_block_read(b, 8, buf, 1), MG_ERANGE);
    cr_assert_eq(mg_block_write(b, 7, buf, 2), MG_ERANGE);
    /* the write reached the host file */
    int fd = open("disk", O_RDONLY);
    unsigned char host[512];
    cr_assert_eq(pread(fd, host, sizeof host, 7 * 512), 512);
    close(fd);
    for (size_t i = 0; i < sizeof host; i++) cr_assert_eq(host[i], 0xC3);
    mg_block_disconnect(b);
    remove_disk("disk");
}

Test(block_of_file, environment_names_the_file)
{
    make_disk("elsewhere.img", 4 * 512);
    char path[128];
    snprintf(path, sizeof path, "%s/elsewhere.img", tmpdir);
    cr_assert_eq(setenv("MG_BLOCK_storage", path, 1), 0);
    cr_assert_eq(chdir("/"), 0); /* no file "storage" here: the variable wins */
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "storage"), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert_eq(g.n_sectors, 4);
    unsigned char buf[512];
    cr_assert_eq(mg_block_read(b, 1, buf, 1), MG_OK);
    cr_assert_eq(buf[0], 512 % 251);
    mg_block_disconnect(b);
    unsetenv("MG_BLOCK_storage");
    cr_assert_eq(chdir(tmpdir), 0);
    remove_disk("elsewhere.img");
}

Test(block_of_file, missing_file_fails_to_connect)
{
    make_disk("disk", 512);
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "no-such-disk"), MG_ENOENT);
    cr_assert_null(b);
    cr_assert_eq(mg_block_of_file_connect(&b, ""), MG_EINVAL);
    remove_disk("disk");
}

Test(block_of_file, a_file_smaller_than_a_sector_is_no_disk)
{
    make_disk("tiny", 511);
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "tiny"), MG_EINVAL);
    cr_assert_null(b);
    struct stat st;
    cr_assert_eq(stat("tiny", &st), 0);
    cr_assert_eq(st.st_size, 511);
    remove_disk("tiny");
}

Test(block_of_file, odd_sizes_round_down_and_the_file_keeps_its_size)
{
    make_disk("odd", 1636); /* 3 sectors and 100 bytes */
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "odd"), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert_eq(g.n_sectors, 3);
    unsigned char buf[512];
    memset(buf, 0x5A, sizeof buf);
    cr_assert_eq(mg_block_write(b, 2, buf, 1), MG_OK);
    cr_assert_eq(mg_block_write(b, 3, buf, 1), MG_ERANGE);
    mg_block_disconnect(b);
    struct stat st;
    cr_assert_eq(stat("odd", &st), 0);
    cr_assert_eq(st.st_size, 1636);
    /* the 100 bytes past the last whole sector are as they were */
    int fd = open("odd", O_RDONLY);
    unsigned char tail[100];
    cr_assert_eq(pread(fd, tail, sizeof tail, 1536), 100);
    close(fd);
    for (size_t i = 0; i < sizeof tail; i++) cr_assert_eq(tail[i], (1536 + i) % 251);
    remove_disk("odd");
}

Test(block_of_file, read_only_is_reported_and_writes_are_refused)
{
    make_disk("ro", 4 * 512);
    cr_assert_eq(setenv("MG_READ_ONLY_ro", "1", 1), 0);
    mg_block *b = NULL;
    cr_assert_eq(mg_block_of_file_connect(&b, "ro"), MG_OK);
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    cr_assert(!g.read_write);
    unsigned char buf[512];
    memset(buf, 0xEE, sizeof buf);
    cr_assert_eq(mg_block_write(b, 0, buf, 1), MG_EACCES);
    /* the platform refuses it too, for code that goes round the library */
    mg_handle h;
    struct mg_block_info info;
    cr_assert_eq(mg_platform_block_acquire("ro", &h, &info), MG_OK);
    cr_assert_eq(info.read_only, 1);
    cr_assert_eq(mg_platform_block_write(h, 0, buf, 512), MG_EACCES);
    cr_assert_eq(mg_platform_block_read(h, 0, buf, 512), MG_OK);
    cr_assert_eq(buf[1], 1);
    unsetenv("MG_READ_ONLY_ro");
    mg_block_disconnect(b);
    remove_disk("ro");
}

Test(block_of_file, at_most_16_devices)
{
    make_disk("disk", 512);
    char name[32];
    mg_handle h;
    struct mg_block_info info;
    for (int i = 0; i < MG_PLATFORM_MAX_BLOCKS; i++) {
        snprintf(name, sizeof name, "MG_BLOCK_d%d", i);
        cr_assert_eq(setenv(name, "disk", 1), 0);
        cr_assert_eq(mg_platform_block_acquire(name + strlen("MG_BLOCK_"), &h, &info), MG_OK);
    }
    /* one of those again is fine; a 17th device is not */
    cr_assert_eq(mg_platform_block_acquire("d0", &h, &info), MG_OK);
    cr_assert_eq(setenv("MG_BLOCK_d16", "disk", 1), 0);
    cr_assert_eq(mg_platform_block_acquire("d16", &h, &info), MG_ENOSPC);
    remove_disk("disk");
}
