#include <pthread.h>
#include <stdlib.h>

#include "reqpool.h"

#define THREADS_MAX 64
#define QUEUE_MAX 1024 /* suspended requests waiting for a thread; more: 503 */

typedef struct Item {
        Req *r;
        handler_fn fn;
        struct Item *next;
} Item;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t work;
        Item *head, *tail;
        unsigned queued, threads;
        bool running, stop;
        pthread_t tid[THREADS_MAX];
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER };

static void *worker(void *arg) {
        pthread_mutex_lock(&q.lock);
        for (;;) {
                Item *it = q.head;
                if (!it) {
                        if (q.stop)
                                break;
                        pthread_cond_wait(&q.work, &q.lock);
                        continue;
                }
                q.head = it->next;
                if (!q.head)
                        q.tail = NULL;
                q.queued--;
                pthread_mutex_unlock(&q.lock);
                it->fn(it->r);
                it->r->pooled_done = true;
                /* The last touch of r here: once resumed, the event loop
                 * owns it again (and may free it). */
                MHD_resume_connection(it->r->conn);
                free(it);
                pthread_mutex_lock(&q.lock);
        }
        pthread_mutex_unlock(&q.lock);
        return NULL;
}

int reqpool_start(unsigned threads) {
        if (threads == 0 || threads > THREADS_MAX)
                return -EINVAL;
        q.stop = false;
        for (unsigned i = 0; i < threads; i++) {
                int r = pthread_create(&q.tid[i], NULL, worker, NULL);
                if (r != 0) {
                        reqpool_stop();
                        return -r;
                }
                q.threads = i + 1;
        }
        q.running = true;
        return 0;
}

void reqpool_stop(void) {
        pthread_mutex_lock(&q.lock);
        q.stop = true;
        q.running = false;
        pthread_cond_broadcast(&q.work);
        pthread_mutex_unlock(&q.lock);
        for (unsigned i = 0; i < q.threads; i++)
                pthread_join(q.tid[i], NULL);
        q.threads = 0;
}

int reqpool_run(Req *r, handler_fn fn) {
        Item *it = malloc(sizeof *it);
        if (!it)
                return -EBUSY;
        *it = (Item) { .r = r, .fn = fn };
        pthread_mutex_lock(&q.lock);
        if (!q.running || q.stop) {
                pthread_mutex_unlock(&q.lock);
                free(it);
                return -ESHUTDOWN;
        }
        if (q.queued >= QUEUE_MAX) {
                pthread_mutex_unlock(&q.lock);
                free(it);
                return -EBUSY;
        }
        /* Suspended before it is queued: a worker can resume it only
         * after this (resuming a connection that is not suspended is
         * undefined). We are on the connection's event loop, in its access
         * handler, where suspending is allowed. */
        MHD_suspend_connection(r->conn);
        if (q.tail)
                q.tail->next = it;
        else
                q.head = it;
        q.tail = it;
        q.queued++;
        pthread_cond_signal(&q.work);
        pthread_mutex_unlock(&q.lock);
        return 0;
}
