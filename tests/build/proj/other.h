/* Shared by both sources. */
const char *other_word(void);
