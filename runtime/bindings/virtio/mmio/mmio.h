/*
 * mmio.h - the virtio-mmio transport (mmio.c), for machines without PCI:
 * QEMU's aarch64 and riscv64 `virt` machines. What an arch that lists
 * "mmio" in its "bindings" (targets/virtio.json) calls: it registers the
 * machine's virtio-mmio windows, from its device tree or its known
 * memory map, and acknowledges their interrupts from its handler.
 */
#ifndef MG_BINDINGS_VIRTIO_MMIO_H
#define MG_BINDINGS_VIRTIO_MMIO_H

#include <stdint.h>

#include "../virtio.h"

/* Windows registered at most (QEMU's arm virt machine has 32, its riscv
 * virt machine 8). */
#define MG_VIRTIO_MMIO_MAX 32

/* Registers the virtio-mmio window at `base` (identity-mapped as device
 * memory by the arch), whose interrupt is `irq` (the arch's own number,
 * given back in struct mg_virtio_dev for mg_virtio_irq_wake;
 * MG_VIRTIO_NO_IRQ: none). mg_virtio_find goes through the windows in
 * the order registered, which must be the order of QEMU's bus numbers
 * (virtio-mmio-bus.0 first: mgd run puts the note's n-th device on bus
 * n). Call before mg_virtio_run. 0, or -1 when MG_VIRTIO_MMIO_MAX are
 * registered already. */
int mg_virtio_mmio_add(uintptr_t base, uint32_t irq);

/* Acknowledges every registered device's pending interrupts (reading
 * InterruptStatus, writing it to InterruptACK), which drops their lines:
 * for the arch's interrupt handler, which does nothing else. Returns
 * whether any device had one. */
int mg_virtio_mmio_ack(void);

#endif
