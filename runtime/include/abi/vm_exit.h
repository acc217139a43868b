/*
 * abi/vm_exit.h - how the exit status of an image that runs in a virtual
 * machine (virtio) reaches `mgd run`: through QEMU's own exit status,
 * which QEMU also uses for its failures. Shared by the virtio binding
 * (runtime/bindings/virtio/exit.c, the exception handler) and the
 * launcher (toolchain/launch.c), so plain C and nothing else.
 *
 * The image ends with status s by making QEMU exit with 2 * (s + 1) + 1
 * (on x86_64, by writing s + 1 to the isa-debug-exit device, which exits
 * with 2 * value + 1). So QEMU's exit status says who ended the run:
 *
 *   odd, 3 or more   the image, with status (exit - 3) / 2;
 *   0                a reset of the guest: with -no-reboot, a fault the
 *                    guest could not even take (a triple fault);
 *   1, or even       QEMU itself failed (a device it could not open, ...):
 *                    never mistaken for the image's status 0.
 *
 * Statuses 0 to MG_VM_EXIT_MAX come back exactly; any other comes back as
 * MG_VM_EXIT_MAX.
 */
#ifndef MG_ABI_VM_EXIT_H
#define MG_ABI_VM_EXIT_H

#define MG_VM_EXIT_MAX 126

/* The value the image hands its exit device for `status`: 1 to 127. */
static inline unsigned mg_vm_exit_value(int status)
{
    return (status >= 0 && status <= MG_VM_EXIT_MAX ? (unsigned)status : MG_VM_EXIT_MAX) + 1;
}

/* The image's status from QEMU's exit status, or -1 when QEMU's exit was
 * not the image's (a reset: 0; a failure of QEMU's: 1 or even). */
static inline int mg_vm_exit_status(int qemu_exit)
{
    return qemu_exit >= 3 && (qemu_exit & 1) ? (qemu_exit - 3) / 2 : -1;
}

#endif
