/* src/local.c - threading.local on pthread keys, created lazily so static keys need no init.
 *
 * key->state holds the pthread key + 1 once created. Two threads may race to create it: each
 * creates a key and tries to install it with a CAS; the loser deletes its own key and uses the
 * winner's. */
#include <pthread.h>
#include <stdatomic.h>

#include <weft/error.h>
#include <weft/local.h>

#include "core/internal.h"

static _Atomic uint32_t *state_of(weft_local *key)
{
    /* The public struct keeps a plain uint32_t so the header needs no <stdatomic.h> (and
     * compiles as C++); it is only ever accessed through this atomic view. */
    return (_Atomic uint32_t *)&key->state;
}

static int key_of(weft_local *key, pthread_key_t *out)
{
    /* acquire: pairs with the release CAS below, so the key is fully created when seen. */
    uint32_t s = atomic_load_explicit(state_of(key), memory_order_acquire);
    if (s == 0) {
        pthread_key_t k;
        if (weft__fault(WEFT__FAULT_ALLOC))
            return weft__fail(WEFT_ENOMEM, "no thread-local key could be made");
        int e = pthread_key_create(&k, key->destructor);
        if (e)
            return weft__fail(e == EAGAIN ? WEFT_EAGAIN : WEFT_ENOMEM, "%s",
                              e == EAGAIN ? "the system's limit of thread-local keys is reached"
                                          : "no memory for a thread-local key");
        uint32_t want = 0;
        if (atomic_compare_exchange_strong_explicit(state_of(key), &want, (uint32_t)k + 1,
                                                    memory_order_release, memory_order_acquire)) {
            s = (uint32_t)k + 1;
        } else {
            pthread_key_delete(k);
            s = want;
        }
    }
    *out = (pthread_key_t)(s - 1);
    return 0;
}

int weft_local_init(weft_local *key, void (*destructor)(void *value))
{
    return weft_local_init_with(key, destructor, NULL, NULL);
}

int weft_local_init_with(weft_local *key, void (*destructor)(void *value), weft_local_init_fn init,
                         void *arg)
{
    if (key == NULL) return weft__fail(WEFT_EINVAL, "key is NULL");
    key->destructor = destructor;
    key->init = init;
    key->init_arg = arg;
    atomic_store_explicit(state_of(key), 0, memory_order_relaxed);
    return 0;
}

/* The calling thread has no value under k: make its first one with the key's initializer. */
static void *first_value(weft_local *key, pthread_key_t k)
{
    void *v = key->init(key->init_arg);
    if (v != NULL && pthread_setspecific(k, v) != 0) {
        if (key->destructor) key->destructor(v); /* it could not be kept: nobody else would */
        v = NULL;
    }
    return v;
}

void *weft_local_get(weft_local *key)
{
    pthread_key_t k = 0; /* set by key_of on success; 0 quiets -Wmaybe-uninitialized */
    if (key == NULL) return NULL;
    /* Not created yet and no initializer: no thread can have a value, so do not create the
     * key just to read NULL. */
    if (key->init == NULL && atomic_load_explicit(state_of(key), memory_order_acquire) == 0)
        return NULL;
    if (key_of(key, &k) != 0) return NULL;
    void *v = pthread_getspecific(k);
    return v == NULL && key->init ? first_value(key, k) : v;
}

int weft_local_set(weft_local *key, void *value)
{
    pthread_key_t k = 0; /* set by key_of on success; 0 quiets -Wmaybe-uninitialized */
    if (key == NULL) return weft__fail(WEFT_EINVAL, "key is NULL");
    int rc = key_of(key, &k);
    if (rc) return rc;
    if (pthread_setspecific(k, value) != 0)
        return weft__fail(WEFT_ENOMEM, "no memory for the thread's value");
    return 0;
}

int weft_local_free(weft_local *key)
{
    if (key == NULL) return weft__fail(WEFT_EINVAL, "key is NULL");
    uint32_t s = atomic_exchange_explicit(state_of(key), 0, memory_order_acq_rel);
    if (s != 0) pthread_key_delete((pthread_key_t)(s - 1));
    return 0;
}
