/*
 * kiosk_malloc_count.h - counts heap allocations of the whole program, so
 * a test can check that the kiosk core allocates nothing after start-up.
 * Include it in exactly one file of a test program: it defines malloc,
 * calloc and realloc over glibc's __libc_* versions.
 */
#ifndef TAPAID_KIOSK_MALLOC_COUNT_H
#define TAPAID_KIOSK_MALLOC_COUNT_H

#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static unsigned long kiosk_mallocs;

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);

void *malloc(size_t n)
{
	kiosk_mallocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	kiosk_mallocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	kiosk_mallocs++;
	return __libc_realloc(p, n);
}

#endif
