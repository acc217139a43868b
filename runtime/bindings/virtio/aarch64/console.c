/*
 * console.c - the virtio console on aarch64: the `virt` board's PL011
 * UART, polled; LF goes out as CR LF for the terminal on the other end.
 * QEMU's PL011 needs no baud rate; it is only enabled for transmitting.
 */
#include <stddef.h>
#include <stdint.h>

#include "aarch64.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_FR_TXFF (1u << 5) /* the transmit FIFO is full */
#define UART_CR 0x030
#define UART_CR_ON 0x301 /* UARTEN, TXE, RXE */

void mg_virtio_console_init(void)
{
    mmio_write32(VIRT_UART + UART_CR, UART_CR_ON);
}

static void uart_put(char c)
{
    while (mmio_read32(VIRT_UART + UART_FR) & UART_FR_TXFF) {
    }
    mmio_write32(VIRT_UART + UART_DR, (uint8_t)c);
}

void mg_platform_console_write(const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n') uart_put('\r');
        uart_put(buf[i]);
    }
}
