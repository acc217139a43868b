/* Included by unikernel.c only: changing it must recompile that file alone. */
#define GREETING "cache test"
