/*
 * console.c - the virtio binding's console on riscv64: the `virt` board's
 * ns16550a UART at 0x10000000, 8N1, polled, with its FIFO; LF goes out as
 * CR LF for the terminal on the other end, as on x86_64's COM1. QEMU's
 * UART ignores the baud rate, but a real 16550 needs one: the divisor is
 * set all the same.
 */
#include <stddef.h>
#include <stdint.h>

#include "riscv.h"

#define THR 0 /* transmit holding register */
#define IER 1
#define FCR 2
#define LCR 3
#define LSR 5
#define LSR_THRE 0x20 /* room in the transmit FIFO */

void mg_riscv_console_init(void)
{
    mmio_write8(RV_UART + IER, 0x00); /* no interrupts */
    mmio_write8(RV_UART + LCR, 0x80); /* divisor follows */
    mmio_write8(RV_UART + 0, 0x01);
    mmio_write8(RV_UART + 1, 0x00);
    mmio_write8(RV_UART + LCR, 0x03); /* 8 bits, no parity, one stop bit */
    mmio_write8(RV_UART + FCR, 0xc7); /* FIFO on, cleared */
}

static void serial_put(char c)
{
    while (!(mmio_read8(RV_UART + LSR) & LSR_THRE)) mg_virtio_relax();
    mmio_write8(RV_UART + THR, (uint8_t)c);
}

void mg_platform_console_write(const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n') serial_put('\r');
        serial_put(buf[i]);
    }
}
