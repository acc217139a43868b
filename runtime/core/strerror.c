/*
 * strerror.c - the message of each MG_* status (mg/mg.h). The generated
 * main.c prints it after the device that failed to connect, so messages are
 * short lowercase phrases that read well after a colon.
 */
#include "mg/mg.h"

static const char *const mg_status_messages[MG_ESTATUS_MAX] = {
    [MG_OK] = "success",
    [MG_EINVAL] = "invalid argument",
    [MG_ENOENT] = "not found",
    [MG_EIO] = "input/output error",
    [MG_ENOMEM] = "out of memory",
    [MG_ENOSPC] = "no space left on the device",
    [MG_ERANGE] = "out of range",
    [MG_EUNSUPPORTED] = "not supported",
    [MG_EISDIR] = "is a directory",
    [MG_ENOTDIR] = "not a directory",
    [MG_EEXIST] = "already exists",
    [MG_EACCES] = "permission denied",
    [MG_EAGAIN] = "try again later",
    [MG_ECONNRESET] = "connection reset by the peer",
    [MG_ECONNREFUSED] = "connection refused",
    [MG_ETIMEDOUT] = "timed out",
    [MG_EADDRINUSE] = "address already in use",
    [MG_ENOTCONN] = "not connected",
};

const char *mg_strerror(int status)
{
    if (status >= 0 && status < MG_ESTATUS_MAX && mg_status_messages[status])
        return mg_status_messages[status];
    return "unknown error";
}
