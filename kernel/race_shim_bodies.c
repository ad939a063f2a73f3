/* kernel/race_shim_bodies.c: kernel C for kernel/race_shim_test.cc, compiled
 * as the kernel's files are (the shim force-included) and, as the kernel
 * target's deterministic flavour, with the race detector's load/store
 * callbacks (kernel/CMakeLists.txt). Each function is one side of a
 * two-thread test of what the shim reports to the detector. */
#include "kernel/race_shim_bodies.h"

void nfk_rt_init(struct nfk_rt *s) {
  spin_lock_init(&s->lock);
  s->seq = 2;
  s->payload = 0;
  s->ready = 0;
}

/* mn_itree_inv_end's pattern: a plain ++ under the lock. */
void nfk_rt_locked_increment(struct nfk_rt *s) {
  spin_lock(&s->lock);
  s->seq++;
  spin_unlock(&s->lock);
}

/* The same with the lock dropped (a mutant's edit). */
void nfk_rt_unlocked_increment(struct nfk_rt *s) { s->seq++; }

/* mmu_interval_read_begin's wait_event condition: READ_ONCE without the lock. */
unsigned long nfk_rt_read_once(struct nfk_rt *s) { return READ_ONCE(s->seq); }

unsigned long nfk_rt_locked_read(struct nfk_rt *s) {
  spin_lock(&s->lock);
  unsigned long v = s->seq;
  spin_unlock(&s->lock);
  return v;
}

void nfk_rt_write_once(struct nfk_rt *s) { WRITE_ONCE(s->seq, 7); }

/* The kernel's own READ_ONCE is a volatile access; compiled here, it is a load
 * the instrumentation reports like any plain one. */
unsigned long nfk_rt_volatile_read(struct nfk_rt *s) {
  return *(const volatile unsigned long *)&s->seq;
}

/* Message passing: a plain payload published by a release store, read after
 * an acquire load; or with both marked accesses relaxed. */
void nfk_rt_publish(struct nfk_rt *s) {
  s->payload = 42;
  smp_store_release(&s->ready, 1);
}
long nfk_rt_consume(struct nfk_rt *s) { return smp_load_acquire(&s->ready) ? s->payload : -1; }
void nfk_rt_publish_relaxed(struct nfk_rt *s) {
  s->payload = 42;
  WRITE_ONCE(s->ready, 1);
}
long nfk_rt_consume_relaxed(struct nfk_rt *s) { return READ_ONCE(s->ready) ? s->payload : -1; }
_Static_assert(sizeof(struct nfk_rt) <= NFK_RT_BYTES, "grow NFK_RT_BYTES");
