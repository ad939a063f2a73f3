/* kernel/weak_shim_bodies.c: kernel C for kernel/weak_shim_test.cc, compiled
 * as the kernel's files are (the shim force-included): the litmus shapes of
 * the kernel memory model (tools/memory-model/litmus-tests; written here from
 * their description) on the shim's WRITE_ONCE, READ_ONCE, smp_mb,
 * smp_store_release and smp_load_acquire, for the scheduler's weak-memory
 * mode (sync/weak_memory.h). */
#include "kernel/weak_shim_bodies.h"

void nfk_sb0(struct nfk_litmus *l, int mb) {
  WRITE_ONCE(l->x, 1);
  if (mb)
    smp_mb();
  l->r[0] = READ_ONCE(l->y);
}

void nfk_sb1(struct nfk_litmus *l, int mb) {
  WRITE_ONCE(l->y, 1);
  if (mb)
    smp_mb();
  l->r[1] = READ_ONCE(l->x);
}

void nfk_mp_producer(struct nfk_litmus *l, int release_acquire) {
  WRITE_ONCE(l->x, 1); /* the buffer */
  if (release_acquire)
    smp_store_release(&l->y, 1);
  else
    WRITE_ONCE(l->y, 1); /* the flag */
}

void nfk_mp_consumer(struct nfk_litmus *l, int release_acquire) {
  l->r[0] = release_acquire ? smp_load_acquire(&l->y) : READ_ONCE(l->y);
  l->r[1] = READ_ONCE(l->x);
}
