/*
 * console.c - the unix binding's console: standard output, written with
 * write(2) and no buffer of its own: every mg_printf is one line already
 * formatted, and an image that crashes must not lose what it printed
 * before.
 *
 * It also keeps descriptor 1 the console's (mg_unix_std_fds): this file is
 * in every image (the generated main prints, and so does abort), so its
 * constructor always runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "abi/platform.h"

void mg_platform_console_write(const char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere to report it: the console is the report */
        }
        buf += n;
        size -= (size_t)n;
    }
}

/* Before main: /dev/null on whichever standard descriptor the image was
 * started without, so that no file it opens (a disk, a tap, a store's
 * temporary file) becomes descriptor 1 and gets what the console prints.
 * If even /dev/null cannot be opened, the descriptor stays closed: the
 * console's writes then fail, and a device may take the slot, as before. */
__attribute__((constructor)) static void mg_unix_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int opened = open("/dev/null", O_RDWR);
        if (opened >= 0 && opened != fd) close(opened);
    }
}
