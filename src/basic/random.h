#pragma once
#include <stddef.h>

/* Fills buf with size-1 random lowercase hex digits and a NUL (getrandom). */
void random_hex(char *buf, size_t size);

/* Fills buf with size-1 random characters from [A-Za-z0-9] and a NUL; used
 * for generated passwords (about 5.95 bits each). */
int random_alnum(char *buf, size_t size);
