#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <mosquitto.h>

/* Names the calling thread (at most 15 bytes), so libmosquitto's network thread shows in per-thread CPU figures.
   pthread_setname_np is a GNU extension that Swift's Glibc module does not expose. */
static inline void cmosquitto_name_thread(const char *name) {
    pthread_setname_np(pthread_self(), name);
}
