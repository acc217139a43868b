/*
 * virtio.h - what the virtio platform's files share: port I/O, and the
 * block devices found on the PCI bus (virtio_blk.c).
 */
#ifndef MG_VIRTIO_H
#define MG_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Finds the virtio block devices on PCI bus 0 and sets them up, in slot
 * order (mgd run attaches them in the order of the image's note). Returns
 * how many. Called once at boot, after the heap exists. */
int mg_virtio_blk_init(void);
/* The i-th device's capacity in bytes. */
uint64_t mg_virtio_blk_capacity(int i);
/* Reads or writes whole 512-byte sectors; MG_OK or MG_EIO. */
int mg_virtio_blk_io(int i, int write, uint64_t sector, void *buf, size_t size);

#endif
