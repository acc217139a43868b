#include "other.h"

const char *other_word(void)
{
    return "one";
}
