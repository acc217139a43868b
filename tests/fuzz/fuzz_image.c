/*
 * fuzz_image.c - libFuzzer target for the reader of an image's note
 * (toolchain/image.h), which `mgd run` and the spt tender apply to any
 * file they are given.
 *
 * The input is the whole file: an ELF header, program headers and notes
 * the fuzzer shapes (the seeds are small valid images, see
 * corpus/README.md). It lives in a memfd, reached by its /proc path, as
 * the reader opens files by name. A note that is read must keep the
 * reader's promises: name, target and arch set, abi positive, every
 * device with a kind and a name without a newline.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "toolchain/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-image", MFD_CLOEXEC);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) abort();
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    mg_image_info info;
    mg_err err = {0};
    if (mg_image_read_info(path, &info, &err) == 0) {
        if (!info.name || !info.target || !info.arch || info.abi < 1) abort();
        for (size_t i = 0; i < info.n_devices; i++)
            if (!info.devices[i].kind || !info.devices[i].name ||
                strchr(info.devices[i].name, '\n'))
                abort();
        mg_image_info_free(&info);
    } else if (!err.msg[0]) {
        abort(); /* a refusal says why */
    }
    return 0;
}
