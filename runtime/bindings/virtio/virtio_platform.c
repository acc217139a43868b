/*
 * virtio_platform.c - mg/platform.h for virtio images: kernels that QEMU
 * (or any Multiboot loader on an x86_64 PC) boots.
 *
 * The console is the first serial port, clocks come from the TSC
 * (calibrated at boot against the PIT) and the RTC, entropy from RDRAND,
 * and the end through QEMU's isa-debug-exit device (status s makes QEMU
 * exit with 2s + 1, so statuses 0 to 127 come back exactly). Block
 * devices are virtio-blk (virtio_blk.c), network devices virtio-net
 * (virtio_net.c), both over PCI and polled. Yield checks the TSC and the
 * network receive queues; between checks it sleeps in `hlt` until the
 * next tick of the PIT (1 kHz) or a network device's interrupt, which only
 * wake it (boot.S), so an idle image costs its host almost nothing and
 * still hears a frame at once.
 *
 * Handles: block and network devices share one handle space below
 * MG_PLATFORM_MAX_HANDLES (64), so that yield's ready set can name any of
 * them. Block handles are 0 to 31 (the n-th virtio-blk device), network
 * handles 32 to 63 (NET_HANDLE_BASE + the n-th virtio-net device).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"
#include "virtio.h"

/* ---- instructions ---------------------------------------------------------------------- */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- the serial console (COM1) ------------------------------------------------------------ */

#define COM1 0x3f8

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* divisor follows */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8 bits, no parity, one stop bit */
    outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
}

static void serial_put(char c)
{
    while (!(inb(COM1 + 5) & 0x20)) __asm__ volatile("pause");
    outb(COM1, (uint8_t)c);
}

void mg_platform_console_write(const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n') serial_put('\r');
        serial_put(buf[i]);
    }
}

/* ---- time ------------------------------------------------------------------------------------ */

static uint64_t tsc_hz, tsc_at_boot, wall_at_boot_ns;

/* The TSC's rate: ticks during 10 ms of the PIT's channel 2. */
static void tsc_calibrate(void)
{
    const uint32_t pit_hz = 1193182, count = pit_hz / 100;
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xb0);                                  /* channel 2, mode 0, both bytes */
    outb(0x42, (uint8_t)(count & 0xff));
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t t0 = rdtsc();
    while (!(inb(0x61) & 0x20)) __asm__ volatile("pause");
    uint64_t t1 = rdtsc();
    tsc_hz = (t1 - t0) * 100;
    if (tsc_hz == 0) tsc_hz = 1000000000; /* a broken PIT: assume 1 GHz */
}

static unsigned bcd(unsigned v)
{
    return (v & 0x0f) + (v >> 4) * 10;
}

static unsigned cmos(unsigned reg)
{
    outb(0x70, (uint8_t)reg);
    return inb(0x71);
}

/* The RTC's time as nanoseconds since the epoch (UTC, as PCs keep it). */
static uint64_t rtc_ns(void)
{
    while (cmos(0x0a) & 0x80) { /* an update in progress */
    }
    unsigned sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07),
             mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32);
    if (!(cmos(0x0b) & 0x04)) { /* BCD */
        sec = bcd(sec), min = bcd(min), hour = bcd(hour & 0x7f), day = bcd(day);
        mon = bcd(mon), year = bcd(year), century = bcd(century);
    }
    unsigned y = (century >= 19 && century <= 21 ? century : 20) * 100 + year;
    /* days since 1970-01-01 (the civil-from-days inverse) */
    int yy = (int)y - (mon <= 2);
    int era = yy / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return ((uint64_t)days * 86400 + hour * 3600 + min * 60 + sec) * 1000000000ull;
}

uint64_t mg_platform_clock_monotonic(void)
{
    uint64_t t = rdtsc() - tsc_at_boot;
    /* ticks to ns without overflowing for years: whole seconds, then the rest */
    return t / tsc_hz * 1000000000ull + (t % tsc_hz) * 1000000000ull / tsc_hz;
}

uint64_t mg_platform_clock_wall(void)
{
    return wall_at_boot_ns + mg_platform_clock_monotonic();
}

/* ---- sleeping: hlt until the PIT's next tick or a network interrupt ---------------------- */

#define TICK_HZ 1000
#define TICK_NS (1000000000ull / TICK_HZ)

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type; /* 0x8e: present, ring 0, 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};

/* all 256 vectors: the CPU's exceptions (0 to 31) stay absent, so a fault
 * still ends in a triple fault and QEMU's exit, as before interrupts; the
 * PIC's 16 from 32; anything else (the local APIC's spurious vector, say)
 * returns at once */
static struct idt_gate idt[256] __attribute__((aligned(16)));

/* IRQ 0s taken (boot.S); and whether they come, so that yield may sleep */
volatile uint32_t mg_virtio_ticks;
static int can_sleep;

void mg_virtio_tick(void);
void mg_virtio_spurious(void);
void mg_virtio_spurious_slave(void);
void mg_virtio_irq(void);

static void idt_set(int vector, void (*handler)(void))
{
    uintptr_t a = (uintptr_t)handler;
    idt[vector] = (struct idt_gate){
        (uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)((uint64_t)a >> 32), 0};
}

static void ticks_init(void)
{
    for (int v = 32; v < 256; v++) idt_set(v, mg_virtio_spurious);
    idt_set(32, mg_virtio_tick);
    idt_set(47, mg_virtio_spurious_slave);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = {sizeof idt - 1, (uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* the 8259 PICs: IRQs 0-15 to vectors 32-47 (not the CPU's exception
     * vectors), every line masked but the PIT's */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 32);
    outb(0xa1, 40);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 1);
    outb(0xa1, 1);
    outb(0x21, 0xfe);
    outb(0xa1, 0xff);
    /* the PIT's channel 0 as a rate generator at TICK_HZ (channel 2 is the
     * TSC's calibration, separate) */
    uint16_t divisor = (uint16_t)(1193182 / TICK_HZ);
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)(divisor & 0xff));
    outb(0x40, (uint8_t)(divisor >> 8));
    /* sleeping in hlt trusts the tick to come: a machine whose timer does
     * not reach the CPU (a masked LINT0, no 8254) would sleep for ever.
     * Wait up to 20 ms for one; without it yield spins as it must. */
    uint32_t before = mg_virtio_ticks;
    uint64_t until = rdtsc() + tsc_hz / 50;
    __asm__ volatile("sti" ::: "memory");
    while (mg_virtio_ticks == before && rdtsc() < until) __asm__ volatile("pause" ::: "memory");
    __asm__ volatile("cli" ::: "memory");
    can_sleep = mg_virtio_ticks != before;
}

void mg_virtio_irq_wake(uint8_t irq)
{
    if (irq == 0 || irq == 2 || irq > 15) return; /* the timer, the cascade, none */
    idt_set(32 + irq, mg_virtio_irq);
    if (irq < 8) {
        outb(0x21, (uint8_t)(inb(0x21) & ~(1u << irq)));
    } else {
        outb(0xa1, (uint8_t)(inb(0xa1) & ~(1u << (irq - 8))));
        outb(0x21, (uint8_t)(inb(0x21) & ~(1u << 2))); /* the slave's cascade */
    }
}

static mg_handle_set nets_ready(void);

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set)
{
    /* poll the receive queues (plain memory reads) and the TSC; sleep in
     * hlt until the next tick while the deadline is more than a tick away,
     * else spin (`pause` eases it on the pipeline and on a hyperthread
     * sibling). Only the handles the caller listens to count. */
    mg_handle_set wanted = *ready_set;
    for (;;) {
        mg_handle_set ready = nets_ready() & wanted;
        uint64_t now = mg_platform_clock_monotonic();
        if (can_sleep && !ready && now < deadline && deadline - now > TICK_NS) {
            /* sti's one-instruction shadow: the tick cannot come between
             * it and hlt, so it always wakes the hlt */
            __asm__ volatile("sti; hlt; cli" ::: "memory");
            continue;
        }
        if (ready || now >= deadline) {
            *ready_set = ready;
            return;
        }
        __asm__ volatile("pause" ::: "memory");
    }
}

/* ---- entropy ------------------------------------------------------------------------------------
 */

static int has_rdrand(void)
{
    uint32_t a = 1, b, c, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return (c >> 30) & 1;
}

int mg_platform_entropy(void *buf, size_t size)
{
    static int rdrand = -1;
    if (rdrand < 0) rdrand = has_rdrand();
    if (!rdrand) return MG_EIO;
    unsigned char *p = buf;
    while (size) {
        uint64_t v;
        unsigned char ok = 0;
        for (int tries = 0; tries < 10 && !ok; tries++)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        if (!ok) return MG_EIO;
        size_t n = size < sizeof v ? size : sizeof v;
        memcpy(p, &v, n);
        p += n;
        size -= n;
    }
    return MG_OK;
}

/* ---- the image's note ------------------------------------------------------------------ */

/* The image's note (toolchain/image.h) lists its devices, "device KIND
 * NAME" a line, in the order in which mgd run attaches them: the n-th
 * block (network) device of the note is the n-th virtio-blk (virtio-net)
 * device on the bus. */
extern const char mg__image_note[];

/* The position of device `name` among the note's devices of `kind`
 * ("block", "net"), or -1 if the note does not declare it. */
static int note_index(const char *kind, const char *name)
{
    const char *text = mg__image_note + 16; /* namesz, descsz, type, "MGD\0" */
    size_t klen = strlen(kind), nlen = strlen(name);
    int index = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        /* "device " KIND " " NAME */
        if ((size_t)(end - line) > 7 + klen + 1 && !strncmp(line, "device ", 7) &&
            !strncmp(line + 7, kind, klen) && line[7 + klen] == ' ') {
            const char *n = line + 7 + klen + 1;
            if ((size_t)(end - n) == nlen && !strncmp(n, name, nlen)) return index;
            index++;
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

/* ---- block devices: virtio-blk (virtio_blk.c) ------------------------------------------- */

#define MAX_BLOCK_HANDLES 32
static int n_disks;

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    int index = note_index("block", name);
    if (index < 0 || index >= n_disks) return MG_ENOENT; /* not declared, or not attached */
    if (mg_virtio_blk_failed(index)) return MG_EIO;      /* attached, but it would not start */
    *handle = (mg_handle)index;
    info->capacity = mg_virtio_blk_capacity(index);
    info->block_size = 512;
    return MG_OK;
}

static int block_check(mg_handle h, uint64_t offset, size_t size)
{
    if (h >= (mg_handle)n_disks || mg_virtio_blk_failed((int)h)) return MG_EINVAL;
    if (offset % 512 || size % 512) return MG_EINVAL;
    uint64_t cap = mg_virtio_blk_capacity((int)h);
    if (offset > cap || size > cap - offset) return MG_ERANGE;
    return MG_OK;
}

int mg_platform_block_read(mg_handle h, uint64_t offset, void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc || !size) return rc;
    return mg_virtio_blk_io((int)h, 0, offset / 512, buf, size);
}

int mg_platform_block_write(mg_handle h, uint64_t offset, const void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc || !size) return rc;
    return mg_virtio_blk_io((int)h, 1, offset / 512, (void *)buf, size);
}

/* ---- network devices: virtio-net (virtio_net.c) ----------------------------------------- */

#define NET_HANDLE_BASE 32
static int n_nics;
static uint32_t nics_acquired; /* bit i: the i-th device was acquired */

int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info)
{
    int index = note_index("net", name);
    if (index < 0 || index >= n_nics) return MG_ENOENT; /* not declared, or not attached */
    if (mg_virtio_net_failed(index)) return MG_EIO;     /* attached, but it would not start */
    /* once: two readers of one device would take each other's frames */
    if (nics_acquired & (1u << index)) return MG_EEXIST;
    *handle = (mg_handle)(NET_HANDLE_BASE + index);
    mg_virtio_net_mac(index, info->mac);
    info->mtu = MG_VIRTIO_NET_MTU;
    nics_acquired |= 1u << index;
    return MG_OK;
}

/* The device behind a network handle, or -1 if it is none. */
static int nic_of(mg_handle h)
{
    if (h < NET_HANDLE_BASE || h >= NET_HANDLE_BASE + (mg_handle)n_nics) return -1;
    int i = (int)(h - NET_HANDLE_BASE);
    return nics_acquired & (1u << i) ? i : -1;
}

static mg_handle_set nets_ready(void)
{
    mg_handle_set ready = 0;
    for (int i = 0; i < n_nics; i++)
        if (nics_acquired & (1u << i) && mg_virtio_net_pending(i))
            ready |= (mg_handle_set)1 << (NET_HANDLE_BASE + i);
    return ready;
}

int mg_platform_net_write(mg_handle h, const void *buf, size_t size)
{
    int i = nic_of(h);
    if (i < 0 || !buf || size < MG_NET_HEADER_SIZE || size > MG_VIRTIO_NET_MTU + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    return mg_virtio_net_write(i, buf, size);
}

int mg_platform_net_read(mg_handle h, void *buf, size_t size, size_t *read_size)
{
    int i = nic_of(h);
    if (i < 0 || !buf || !read_size || size < MG_VIRTIO_NET_MTU + MG_NET_HEADER_SIZE)
        return MG_EINVAL;
    return mg_virtio_net_read(i, buf, read_size);
}

/* ---- the end
 * --------------------------------------------------------------------------------------- */

_Noreturn void mg_platform_exit(int status)
{
    /* the last frames out first (a reply sent just before exiting), for
     * 100 ms at most: a device that stopped taking frames must not keep
     * the image from ending */
    mg_virtio_net_flush(100000000ull);
    outl(0xf4, (uint32_t)status & 0x7f);   /* isa-debug-exit: QEMU exits with 2 * status + 1 */
    for (;;) __asm__ volatile("cli; hlt"); /* no such device: stop here */
}

_Noreturn void mg_platform_abort(const char *msg)
{
    static const char head[] = "abort: ";
    mg_platform_console_write(head, sizeof head - 1);
    mg_platform_console_write(msg, strlen(msg));
    mg_platform_console_write("\n", 1);
    mg_platform_exit(127);
}

/* ---- boot
 * ------------------------------------------------------------------------------------------- */

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

#define MB_BOOT_MAGIC 0x2badb002
#define MAX_ARGS 64

extern char _mg_bss_end[];
extern uintptr_t __stack_chk_guard;
int main(int argc, char **argv);
void mg_virtio_start(uint32_t magic, uint32_t info);

/* Splits `line` in place into at most `max` words as a shell splits words,
 * without its expansions: blanks separate words, "..." quotes blanks, a
 * backslash takes the next character as it is (mgd run quotes arguments
 * this way). Returns how many. Words are written back over the line:
 * never longer than their text. */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *in = line, *out = line;
    while (n < max) {
        while (*in == ' ' || *in == '\t') in++;
        if (!*in) break;
        words[n++] = out;
        int quoted = 0;
        for (; *in && (quoted || (*in != ' ' && *in != '\t')); in++) {
            if (*in == '"')
                quoted = !quoted;
            else if (*in == '\\' && in[1])
                *out++ = *++in;
            else
                *out++ = *in;
        }
        /* the separator may be the byte just written over: step past it
         * before ending the word */
        if (*in) in++;
        *out++ = '\0';
    }
    return n;
}

__attribute__((no_stack_protector)) void mg_virtio_start(uint32_t magic, uint32_t info)
{
    serial_init();
    if (magic != MB_BOOT_MAGIC) mg_platform_abort("not started by a Multiboot loader");
    const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)info;
    uint32_t mem_upper = mbi->flags & 1 ? mbi->mem_upper : 0;
    tsc_calibrate();
    tsc_at_boot = rdtsc();
    ticks_init();
    wall_at_boot_ns = rtc_ns();
    uintptr_t guard = 0;
    if (mg_platform_entropy(&guard, sizeof guard) != MG_OK)
        guard = (uintptr_t)rdtsc() * 0x9e3779b97f4a7c15ull;
    __stack_chk_guard = guard & ~(uintptr_t)0xff;

    /* the command line, split into words (split_words): QEMU passes
     * -append's text; read before the heap is set up, which may start
     * where the loader put it */
    static char line[4096];
    static char *argv[MAX_ARGS + 1];
    int argc = 0;
    /* loaders put the kernel's file name first (QEMU, GRUB): it is argv[0] */
    if (mbi->flags & (1u << 2) && mbi->cmdline) {
        const char *c = (const char *)(uintptr_t)mbi->cmdline;
        size_t n = strnlen(c, sizeof line - 1);
        memcpy(line, c, n);
        line[n] = '\0';
        argc = split_words(line, argv, MAX_ARGS);
    }
    if (argc == 0) argv[argc++] = "image";
    argv[argc] = NULL;
    /* the heap: from the end of the image to the end of memory, within the
     * 1 GiB the boot code maps */
    uintptr_t start = ((uintptr_t)_mg_bss_end + 4095) & ~(uintptr_t)4095;
    uintptr_t end = 0x100000 + (uintptr_t)(mem_upper)*1024;
    if (end > 0x40000000) end = 0x40000000;
    if (end <= start + 65536) mg_platform_abort("too little memory");
    mg_libc_heap_init((void *)start, end - start);
    n_disks = mg_virtio_blk_init();
    if (n_disks > MAX_BLOCK_HANDLES) n_disks = MAX_BLOCK_HANDLES; /* below the network handles */
    n_nics = mg_virtio_net_init();

    mg_platform_exit(main(argc, argv));
}
