/*
 * network.h - network interfaces (MirageOS's Mirage_net): Ethernet frames
 * in and out of one device, with its MAC address and MTU.
 *
 * Implementation: netif(name) over the platform's net calls (unix: a host
 * tap interface; spt: the tap the tender attached; virtio: a virtio-net
 * device), and default_network, which is netif("service") as in Solo5.
 *
 * Contract:
 * - Frames are whole Ethernet frames without the FCS: the 14-byte header
 *   (destination, source, EtherType), then at most mtu bytes of payload.
 * - mg_network_write sends at once (copying the frame); it never waits.
 * - mg_network_listen hands every received frame to a callback, from the
 *   event loop, until mg_network_stop. A listening device keeps the image
 *   alive (the loop watches its handle); stopping it lets the image end.
 *   The frame passed to the callback is only valid during the call. At
 *   most 32 frames are handed over before the loop runs its due timers,
 *   so a flood of frames delays timers but cannot stop them.
 * - A failing connect prints one line saying why and returns an MG_E*
 *   status.
 */
#ifndef MG_NETWORK_H
#define MG_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_network mg_network;

#define MG_ETHER_HEADER_SIZE 14

/* Counters of a device since it was connected. */
typedef struct mg_network_stats {
    uint64_t rx_frames, rx_bytes;
    uint64_t tx_frames, tx_bytes;
    uint64_t rx_errors, tx_errors;
} mg_network_stats;

/* The network device attached under `name` (see abi/platform.h for what
 * that is on each target). */
int mg_netif_connect(mg_network **out, const char *name);

/* The device's name, MAC address and MTU (payload bytes of a frame). */
const char *mg_network_name(const mg_network *n);
void mg_network_mac(const mg_network *n, uint8_t mac[6]);
size_t mg_network_mtu(const mg_network *n);
mg_network_stats mg_network_get_stats(const mg_network *n);

/* Sends one frame of `size` bytes. MG_OK; MG_EINVAL (shorter than the
 * header or longer than mtu + 14); MG_EIO. */
int mg_network_write(mg_network *n, const void *frame, size_t size);

/* Called with each frame received while listening. */
typedef void mg_network_frame_fn(void *arg, mg_network *n, const uint8_t *frame, size_t size);

/* Starts handing received frames to fn(arg, ...). MG_OK, MG_EEXIST
 * (already listening) or what the loop returns. */
int mg_network_listen(mg_network *n, mg_network_frame_fn *fn, void *arg);

/* Stops listening (nothing happens if it was not). */
void mg_network_stop(mg_network *n);

/* Stops listening and frees `n` (NULL is fine; from inside its own
 * listener too, which frees it once the call returns); tests do, images
 * keep their devices. The platform handle stays acquired: the platform has no
 * release call (as in Solo5). */
void mg_network_disconnect(mg_network *n);

/* "02:00:00:ab:cd:ef" into buf (18 bytes). */
void mg_network_format_mac(const uint8_t mac[6], char buf[18]);

#endif
