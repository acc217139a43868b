/*
 * exit.c - the end of a virtio image on aarch64: the decimal value v =
 * mg_vm_exit_value(status) (abi/vm_exit.h) and a `q`, written to a virtio
 * console whose QEMU chardev is `testdev` (targets/virtio.json puts it on
 * the last virtio-mmio transport, 31), makes QEMU exit with (v << 1) | 1:
 * exactly what x86_64's isa-debug-exit gives, so that `mgd run` reads
 * every arch the same way. (mg_platform_exit, which flushes the network
 * first, is the common ../exit.c.)
 *
 * Not ARM semihosting, whose SYS_EXIT_EXTENDED would be simpler: QEMU's
 * semihosting also lets the guest open, write and delete the host's files
 * and run its commands (SYS_OPEN, SYS_REMOVE, SYS_SYSTEM), with the
 * rights of whoever runs `mgd run`, and the images mgd runs are not
 * trusted. The testdev chardev reads a number and `q` and nothing else.
 *
 * The console is a virtio-serial device without MULTIPORT, so queue 1 is
 * port 0's transmit queue; only that queue is set up, at boot
 * (mg_virtio_exit_init), in static memory: the exit is called from the
 * exception handler too, where nothing may be allocated. If the device
 * is missing, or the write does not end the run (another chardev), the
 * machine is powered off through PSCI: QEMU exits 0, which mgd run
 * reports as a crash (70), never as the image's status.
 */
#include <stdint.h>

#include "abi/vm_exit.h"
#include "aarch64.h"

#define VIRTIO_TYPE_CONSOLE 3
#define PORT0_TX 1    /* without MULTIPORT: queue 0 receives, 1 sends */
#define QUEUE_SIZE 8u /* a few entries: the exit sends one buffer */
#define PSCI_SYSTEM_OFF 0x84000008u

/* The queue's memory in the legacy layout: the used ring on the second
 * page. Checked against mg_vq_bytes at boot. */
static unsigned char ring[2 * 4096] __attribute__((aligned(4096)));
static struct mg_vq tx;
static struct mg_virtio_dev console;
static int ready;
static char message[8]; /* up to "127q" */

void mg_virtio_exit_init(void)
{
    int cursor = 0;
    struct mg_virtio_dev dev;
    if (mg_virtio_find(VIRTIO_TYPE_CONSOLE, &cursor, &dev) != 0) return;
    mg_virtio_begin(&dev);
    mg_virtio_set_features(&dev, 0); /* no MULTIPORT: port 0 alone */
    uint16_t max = mg_virtio_queue_max(&dev, PORT0_TX);
    uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
    if (size == 0 || (size & (size - 1)) || mg_vq_bytes(size) > sizeof ring) {
        mg_virtio_set_status(&dev, VP_STATUS_FAILED);
        return;
    }
    mg_vq_place(&dev, PORT0_TX, &tx, size, ring);
    tx.avail[0] = VQ_AVAIL_NO_INTERRUPT; /* polled */
    /* DRIVER_OK is what opens port 0 on QEMU's side for a driver without
     * MULTIPORT, which cannot say so otherwise */
    mg_virtio_set_status(&dev, VP_STATUS_ACK | VP_STATUS_DRIVER | VP_STATUS_DRIVER_OK);
    console = dev;
    ready = 1;
}

_Noreturn void mg_virtio_power_off(void)
{
    /* PSCI SYSTEM_OFF through HVC, the conduit QEMU's virt board gives a
     * guest without EL2; QEMU then exits with 0 */
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
    for (;;) __asm__ volatile("wfi");
}

_Noreturn void mg_virtio_debug_exit(int status)
{
    if (ready) {
        unsigned v = mg_vm_exit_value(status);
        char digits[4];
        unsigned n = 0, len = 0;
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v && n < sizeof digits);
        while (n) message[len++] = digits[--n];
        message[len++] = 'q';
        tx.desc[0] = (struct mg_vq_desc){(uintptr_t)message, len, 0, 0};
        uint16_t used = tx.used[1];
        mg_vq_offer(&console, PORT0_TX, &tx, 0);
        /* notified whatever the used ring's flags say: the image may have
         * written them, and one notify too many costs nothing */
        mg_virtio_notify(&console, PORT0_TX);
        /* QEMU handles the notify at once and exits in it; wait a second
         * at most for a device that took the buffer and did not */
        uint64_t start = SYSREG_READ(cntvct_el0), rate = SYSREG_READ(cntfrq_el0);
        while (tx.used[1] == used && SYSREG_READ(cntvct_el0) - start < rate) mg_virtio_relax();
    }
    mg_virtio_power_off();
}
