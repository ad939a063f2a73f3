/* kernel/race_shim_bodies.h: see kernel/race_shim_bodies.c. */
#ifndef NF_KERNEL_RACE_SHIM_BODIES_H_
#define NF_KERNEL_RACE_SHIM_BODIES_H_

#ifdef __cplusplus
extern "C" {
#endif

struct nfk_rt;
#ifndef __cplusplus
struct nfk_rt {
  spinlock_t lock;
  unsigned long seq;
  long payload;
  int ready;
};
#endif
/* sizeof(struct nfk_rt), for C++ callers that allocate one. */
#define NFK_RT_BYTES 256

void nfk_rt_init(struct nfk_rt *s);
void nfk_rt_locked_increment(struct nfk_rt *s);
void nfk_rt_unlocked_increment(struct nfk_rt *s);
unsigned long nfk_rt_read_once(struct nfk_rt *s);
unsigned long nfk_rt_locked_read(struct nfk_rt *s);
void nfk_rt_write_once(struct nfk_rt *s);
unsigned long nfk_rt_volatile_read(struct nfk_rt *s);
void nfk_rt_publish(struct nfk_rt *s);
long nfk_rt_consume(struct nfk_rt *s);
void nfk_rt_publish_relaxed(struct nfk_rt *s);
long nfk_rt_consume_relaxed(struct nfk_rt *s);

#ifdef __cplusplus
}
#endif

#endif /* NF_KERNEL_RACE_SHIM_BODIES_H_ */
