/*
 * console.c - the virtio binding's console: the PC's first serial port
 * (COM1, a 16550 UART) at 115200 baud, 8N1, polled; LF goes out as CR LF
 * for the terminal on the other end.
 */
#include <stddef.h>
#include <stdint.h>

#include "x86.h"

#define COM1 0x3f8

void mg_virtio_console_init(void)
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
