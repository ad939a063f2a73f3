/* kernel/weak_shim_bodies.h: see kernel/weak_shim_bodies.c. */
#ifndef NF_KERNEL_WEAK_SHIM_BODIES_H_
#define NF_KERNEL_WEAK_SHIM_BODIES_H_

#ifdef __cplusplus
extern "C" {
#endif

/* The shared locations and each thread's registers of one litmus program. */
struct nfk_litmus {
  int x, y;
  int r[4];
};

/* SB+poonceonces (mb = 0) and SB+fencembonceonces (mb = 1): thread 0, 1. */
void nfk_sb0(struct nfk_litmus *l, int mb);
void nfk_sb1(struct nfk_litmus *l, int mb);
/* MP+poonceonces (release_acquire = 0) and MP+pooncerelease+poacquireonce
 * (1): the producer and the consumer. */
void nfk_mp_producer(struct nfk_litmus *l, int release_acquire);
void nfk_mp_consumer(struct nfk_litmus *l, int release_acquire);

#ifdef __cplusplus
}
#endif

#endif /* NF_KERNEL_WEAK_SHIM_BODIES_H_ */
