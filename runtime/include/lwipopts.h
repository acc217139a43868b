/*
 * lwipopts.h - lwIP's options for mgd's direct stack (runtime/tcpip/direct/):
 * NO_SYS mode on the image's one event loop, raw API, IPv4 with TCP, UDP,
 * ICMP, ARP, DHCP and fragmentation, sized for a server that holds 1,000
 * connections at once. lwIP reads it through lwip/opt.h.
 */
#ifndef MG_LWIPOPTS_H
#define MG_LWIPOPTS_H

/* lwIP is compiled for size (-Os for every file that includes this one:
 * lwIP's own and its glue in runtime/tcpip/direct/), whatever the target's
 * -O2: it is most of a network image (echo on spt: 92 KB at -O2, 79 KB
 * at -Os; the goal is 80 KB). Its copies stay in the C library's -O2
 * memcpy; bench/net measures the throughput this gives. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif

/* ---- the system: one thread, no OS ---- */
#define NO_SYS 1
#define LWIP_TIMERS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_NETIF_API 0

/* ---- memory ----
 * The heap is the C library's malloc (runtime/libc on spt and virtio):
 * one heap for the whole image, sized by the target, rather than lwIP's
 * own fixed array that would be too small for a busy server or waste
 * memory in every other image. What must be bounded is in pools: PCBs,
 * segments and received frames (a flood of frames or connections then
 * fails in lwIP's pools, never in the application's heap). */
#define MEM_LIBC_MALLOC 1
/* (a host test may set it to 1, so that a sanitizer sees a freed PCB) */
#ifndef MEMP_MEM_MALLOC
#define MEMP_MEM_MALLOC 0
#endif
#define MEM_ALIGNMENT 8

/* 1,000 concurrent connections and their TIME_WAITs: when the pool is
 * full, tcp_alloc kills the oldest TIME_WAIT PCB first (then LAST_ACK,
 * CLOSING, then the lowest priority), so a benchmark that opens
 * connections faster than TIME_WAIT expires keeps going. */
#define MEMP_NUM_TCP_PCB 1100
#define MEMP_NUM_TCP_PCB_LISTEN 16
#define MEMP_NUM_UDP_PCB 16
#define MEMP_NUM_TCP_SEG 8192
#define MEMP_NUM_REASSDATA 16
#define MEMP_NUM_FRAG_PBUF 64
#define MEMP_NUM_ARP_QUEUE 64
#define MEMP_NUM_PBUF 64
/* received frames: 512 buffers of one full frame each (about 800 KB) */
#define PBUF_POOL_SIZE 512

/* ---- IPv4 ---- */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 32
#define ARP_QUEUEING 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_ETHERNET 1
#define IP_FORWARD 0
/* fragments both ways: `ping -s 3000` and large UDP datagrams */
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 128
#define IP_DEFAULT_TTL 64
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_IGMP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_DHCP 1
/* no ARP probe of the offered address: it costs a second before the
 * lease is used, and the DHCP server already checks */
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0

/* ---- UDP ---- */
#define LWIP_UDP 1

/* ---- TCP, for a server ---- */
#define LWIP_TCP 1
#define TCP_MSS 1460
/* window scaling: a 256 KB window (scale 2), so throughput is not capped
 * at 64 KB per round trip */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 2
#define TCP_WND (176 * TCP_MSS)
#define TCP_SND_BUF (96 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT (16 * TCP_MSS) /* under 64 KB: a u16_t in lwIP */
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 64
#define LWIP_TCP_SACK_OUT 0
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 255
/* TIME_WAIT is 2 * TCP_MSL: 20 s rather than 2 minutes, and pool
 * exhaustion shortens it further (above) */
#define TCP_MSL 10000UL
/* keep-alive on every connection (lwip_tcp.c sets SOF_KEEPALIVE): a peer
 * gone silently is dropped after 2 minutes idle plus 5 probes 15 s apart */
#define LWIP_TCP_KEEPALIVE 1
#define TCP_KEEPIDLE_DEFAULT 120000UL
#define TCP_KEEPINTVL_DEFAULT 15000UL
#define TCP_KEEPCNT_DEFAULT 5U
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
/* SOF_REUSEADDR (set on listeners, inherited by their connections): a
 * port listens again while its earlier connections are in TIME_WAIT, as
 * the socket stack's SO_REUSEADDR does */
#define SO_REUSE 1
/* initial sequence numbers: lwIP 2.1.3's own are a counter plus the
 * ticks, guessed from one connection; RFC 6528's keyed hash instead
 * (mg_lwip_tcp_isn in runtime/tcpip/direct/lwip_port.c). IPv4 only. */
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port)                            \
    mg_lwip_tcp_isn(ip4_addr_get_u32(ip_2_ip4(local_ip)), local_port,                              \
                    ip4_addr_get_u32(ip_2_ip4(remote_ip)), remote_port)

/* ---- the interface ---- */
#define LWIP_SINGLE_NETIF 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_TX_SINGLE_PBUF 1
#define ETH_PAD_SIZE 0

/* ---- checksums in software, both ways (no offload on any target) ---- */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1

/* ---- statistics: off in images; the host tests turn them on to check
 * that pools and the heap return to where they began ---- */
#ifndef LWIP_STATS
#define LWIP_STATS 0
#endif
#if LWIP_STATS
#define MEMP_STATS 1
#define MEM_STATS 1
#define LWIP_STATS_DISPLAY 0
#endif

#endif
