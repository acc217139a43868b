/*
 * arch/cc.h - lwIP's port header for mgd's runtime (lwIP includes it from
 * lwip/arch.h): types, formats and platform hooks for a freestanding image
 * whose C library (runtime/libc) has no inttypes.h, ctype.h or errno, and
 * the same for unix images on the host's C library.
 */
#ifndef MG_LWIP_ARCH_CC_H
#define MG_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

/* runtime/libc has neither; lwIP then uses its own character functions */
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTE_ORDER BIG_ENDIAN
#else
#define BYTE_ORDER LITTLE_ENDIAN
#endif

/* lwIP's own errno values: nothing here uses the socket API's errno */
#define LWIP_PROVIDE_ERRNO 1

/* runtime/tcpip/direct/lwip_port.c */
int mg_printf(const char *fmt, ...);
void mg_lwip_assert(const char *file, int line);
uint32_t mg_lwip_rand(void);
/* LWIP_HOOK_TCP_ISN (lwipopts.h); addresses in network order */
uint32_t mg_lwip_tcp_isn(uint32_t local, uint16_t local_port, uint32_t remote,
                         uint16_t remote_port);
#if !__STDC_HOSTED__
/* netif_find's, which runtime/libc does not have */
int atoi(const char *s);
#endif

/* Diagnostics only with LWIP_DEBUG; an assertion is a bug in lwIP or in
 * our port: the image stops, saying where, rather than go on corrupt.
 * The checks stay; their message strings do not (the file and line find
 * the assertion in lwIP 2.1.3's source): they cost an image 16 KB. */
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
        mg_printf x;                                                                               \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x) mg_lwip_assert(__FILE__, __LINE__)
/* ephemeral ports and DHCP transaction ids must not be guessable: the
 * runtime's ChaCha20 generator. (lwIP 2.1.3 does not use LWIP_RAND for
 * initial sequence numbers: LWIP_HOOK_TCP_ISN in lwipopts.h does.) */
#define LWIP_RAND() mg_lwip_rand()

#endif
