/* kernel/adapter.c: the flat API of nf_kernel.h over the kernel's own
 * mm/mmu_notifier.c.
 *
 * The kernel file is #included here, unmodified (or a mutant's copy of it,
 * whichever mm/mmu_notifier.c the include path finds first), so this one
 * translation unit can reach what the file keeps private: struct
 * mmu_notifier_subscriptions (for the snapshot), its static SRCU and
 * mmu_notifier_free_rcu (to attribute pending frees to an mm). Everything
 * else goes through the kernel's exported functions and header inlines, as a
 * driver would. Names here all start with nfk_ so that none can collide with
 * the kernel file's statics.
 */
#include "mm/mmu_notifier.c"

#include "kernel/nf_kernel.h"

#define NFK_SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " mirrors " #b)
NFK_SAME(NFK_EVENT_UNMAP, MMU_NOTIFY_UNMAP);
NFK_SAME(NFK_EVENT_CLEAR, MMU_NOTIFY_CLEAR);
NFK_SAME(NFK_EVENT_PROTECTION_VMA, MMU_NOTIFY_PROTECTION_VMA);
NFK_SAME(NFK_EVENT_PROTECTION_PAGE, MMU_NOTIFY_PROTECTION_PAGE);
NFK_SAME(NFK_EVENT_SOFT_DIRTY, MMU_NOTIFY_SOFT_DIRTY);
NFK_SAME(NFK_EVENT_RELEASE, MMU_NOTIFY_RELEASE);
NFK_SAME(NFK_EVENT_MIGRATE, MMU_NOTIFY_MIGRATE);
NFK_SAME(NFK_EVENT_EXCLUSIVE, MMU_NOTIFY_EXCLUSIVE);
NFK_SAME(NFK_REPORT_WARN, NF_KERNEL_WARN);
NFK_SAME(NFK_REPORT_BUG, NF_KERNEL_BUG);
NFK_SAME(NFK_REPORT_MIGHT_SLEEP, NF_KERNEL_MIGHT_SLEEP);
NFK_SAME(NFK_REPORT_LOCKDEP, NF_KERNEL_LOCKDEP);
NFK_SAME(NFK_REPORT_RCU, NF_KERNEL_RCU);

/* Harness code in this file, not code under test: where the race detector
 * instruments this translation unit (NF_RACE_INSTRUMENTED, kernel/CMakeLists.txt)
 * its own plain accesses stay out of the detector's view. The oracles' observer
 * (the snapshot: finding F3 was a race of this observer's, not of the kernel's)
 * and the driver's ops table (static const in a real driver; the target creates
 * one per behaviour at first use, under a lock the scheduler does not see).
 * Their marked reads and lock acquisitions still report through the shim. */
#if defined(NF_RACE_INSTRUMENTED)
#define NFK_HARNESS __attribute__((no_sanitize("coverage")))
#else
#define NFK_HARNESS
#endif

struct nfk_mm {
  struct mm_struct mm;
  /* nfk_set_close_leaked_walk: close finding A's walk where the file leaves
   * it open (NF_KERNEL_HAS_FINDING_A), and how many were closed. */
  bool close_leaked_walk;
  unsigned long leaked_walks_closed;
  /* The ops nfk_classic_get is looking up, for the kernel's alloc_notifier
   * (which is given only the mm). Written and read under mm.mmap_lock. */
  nfk_ops *alloc_ops;
};

struct nfk_interval {
  struct mmu_interval_notifier sub;
  nfk_invalidate_fn fn;
  void *cookie;
};

struct nfk_ops {
  struct mmu_notifier_ops ops; /* what the kernel sees and get matches */
  nfk_classic_callbacks cb;
  void *cookie;
};

struct nfk_classic {
  struct mmu_notifier sub;
  nfk_ops *ops;
  void *user; /* nfk_classic_set_user */
};

struct nfk_invalidation {
  struct mmu_notifier_range range; /* start's range, as end needs it */
  nfk_mm *mm;
  bool holds_rmap_locks; /* this invalidation took them (not a nested one) */
  bool classic_start_failed; /* a classic subscriber's start failed this range */
};

const char *nfk_kernel_version(void) { return NF_KERNEL_VERSION; }
const char *nfk_mutant(void) { return NF_KERNEL_MUTANT; }

static void nfk_to_range(const struct mmu_notifier_range *r, nfk_range *out) {
  out->start = r->start;
  out->end = r->end;
  out->blockable = mmu_notifier_range_blockable(r);
  out->event = (int)r->event;
  out->owner = r->owner;
}

/* ---- address spaces ---------------------------------------------------------- */

nfk_mm *nfk_mm_create(unsigned long initial_seq) {
  nfk_mm *m = calloc(1, sizeof(*m));
  if (!m)
    abort();
  atomic_set(&m->mm.mm_users, 1);
  atomic_set(&m->mm.mm_count, 2);
  nf_kernel_init_rwsem(&m->mm.mmap_lock, "&mm->mmap_lock");
  nf_kernel_init_rwsem(&m->mm.nf_rmap_locks, "&mm->nf_rmap_locks");
  mmu_notifier_subscriptions_init(&m->mm);
  if (initial_seq != 0) {
    /* FUZZING_ONLY: the allocation __mmu_notifier_register makes for the
     * first registration, done early so that the seq can be chosen. */
    struct mmu_notifier_subscriptions *s = calloc(1, sizeof(*s));
    if (!s)
      abort();
    INIT_HLIST_HEAD(&s->list);
    nf_kernel_spin_lock_init(&s->lock, "&subscriptions->lock"); /* the kernel's class */
    s->invalidate_seq = initial_seq;
    s->itree = RB_ROOT_CACHED;
    init_waitqueue_head(&s->wq);
    INIT_HLIST_HEAD(&s->deferred_list);
    m->mm.notifier_subscriptions = s;
  }
  return m;
}

void nfk_mm_get_user(nfk_mm *m) { atomic_inc(&m->mm.mm_users); }

bool nfk_mm_try_get_user(nfk_mm *m) { return atomic_inc_not_zero(&m->mm.mm_users); }

int nfk_mm_put_user(nfk_mm *m) {
  int left = nf_kernel_atomic_add_return(&m->mm.mm_users, -1);
  if (left == 0) {
    /* __mmput: exit_mmap calls mmu_notifier_release first; then the users'
     * mm_count reference goes. */
    mmu_notifier_release(&m->mm);
    mmdrop(&m->mm);
  }
  return left;
}

void nfk_mm_grab(nfk_mm *m) { mmgrab(&m->mm); }

void nfk_mm_drop(nfk_mm *m) { mmdrop(&m->mm); }

int nfk_mm_destroy(nfk_mm *m) {
  while (atomic_read(&m->mm.mm_users) > 0)
    nfk_mm_put_user(m);
  int left = nf_kernel_atomic_add_return(&m->mm.mm_count, -1);
  if (left == 0)
    nf_kernel_mm_free(&m->mm);
  return left;
}

/* The shim's mmdrop at zero (the kernel's __mmdrop, for what this file owns). */
void nf_kernel_mm_free(struct mm_struct *mm) {
  mmu_notifier_subscriptions_destroy(mm);
  free(container_of(mm, nfk_mm, mm));
}

/* ---- interval subscriptions -------------------------------------------------------- */

static bool nfk_interval_invalidate(struct mmu_interval_notifier *s,
                                    const struct mmu_notifier_range *r, unsigned long cur_seq) {
  nfk_interval *sub = container_of(s, nfk_interval, sub);
  nfk_range range;
  nfk_to_range(r, &range);
  return sub->fn(sub->cookie, sub, &range, cur_seq);
}

static const struct mmu_interval_notifier_ops nfk_interval_ops = {
    .invalidate = nfk_interval_invalidate,
};

nfk_interval *nfk_interval_alloc(nfk_invalidate_fn fn, void *cookie) {
  nfk_interval *sub = calloc(1, sizeof(*sub));
  if (!sub)
    abort();
  sub->fn = fn;
  sub->cookie = cookie;
  return sub;
}

void nfk_interval_free(nfk_interval *sub) { free(sub); }
void *nfk_interval_cookie(const nfk_interval *sub) { return sub->cookie; }

int nfk_interval_insert(nfk_mm *m, nfk_interval *sub, unsigned long start, unsigned long length) {
  return mmu_interval_notifier_insert(&sub->sub, &m->mm, start, length, &nfk_interval_ops);
}

int nfk_interval_insert_locked(nfk_mm *m, nfk_interval *sub, unsigned long start,
                               unsigned long length) {
  mmap_write_lock(&m->mm);
  int ret = mmu_interval_notifier_insert_locked(&sub->sub, &m->mm, start, length,
                                                &nfk_interval_ops);
  mmap_write_unlock(&m->mm);
  return ret;
}

void nfk_interval_remove(nfk_interval *sub) { mmu_interval_notifier_remove(&sub->sub); }

unsigned long nfk_interval_read_begin(nfk_interval *sub) {
  return mmu_interval_read_begin(&sub->sub);
}

bool nfk_interval_read_retry(nfk_interval *sub, unsigned long seq) {
  return mmu_interval_read_retry(&sub->sub, seq);
}

bool nfk_interval_check_retry(nfk_interval *sub, unsigned long seq) {
  return mmu_interval_check_retry(&sub->sub, seq);
}

void nfk_interval_set_seq(nfk_interval *sub, unsigned long cur_seq) {
  mmu_interval_set_seq(&sub->sub, cur_seq);
}

/* ---- invalidation -------------------------------------------------------------------- */

/* Finding A (FINDINGS.md): in a file that has it (NF_KERNEL_HAS_FINDING_A: 6.1
 * as Debian ships it, and its mutants), a non-blockable start whose interval
 * walk succeeded and whose classic side then failed returns with the walk still
 * counted in active_invalidate_ranges (and the seq odd if it overlapped a
 * subscription): nothing ever ends it. Called after such a failure: with
 * close_leaked_walk set (the kernel target's fuzzing traits), it checks that the
 * walk was left open exactly so, and ends it as the fix does
 * (kernel/fixes/finding_a.cmake), so that a program goes on past the
 * divergence instead of hanging at the next remove. Without it (the contract's
 * traits, the findings' reproducers, the smoke tests) the walk stays open. */
static void nfk_close_leaked_walk(nfk_mm *m) {
  struct mmu_notifier_subscriptions *subscriptions = m->mm.notifier_subscriptions;
  if (!NF_KERNEL_HAS_FINDING_A || !m->close_leaked_walk || !subscriptions->has_itree)
    return;
  spin_lock(&subscriptions->lock);
  bool open = subscriptions->active_invalidate_ranges > 0;
  spin_unlock(&subscriptions->lock);
  /* The classified behaviour: the walk of this start is still counted. */
  if (WARN_ON(!open))
    return;
  mn_itree_inv_end(subscriptions);
  /* Two threads may close a walk each at once (the race detector found the
   * plain ++ this was): an atomic add, which the detector's instrumentation
   * does not see, and a harness read. */
  __atomic_fetch_add(&m->leaked_walks_closed, 1, __ATOMIC_RELAXED);
}

void nfk_set_close_leaked_walk(nfk_mm *m, bool close) { m->close_leaked_walk = close; }

NFK_HARNESS unsigned long nfk_leaked_walks_closed(nfk_mm *m) {
  return __atomic_load_n(&m->leaked_walks_closed, __ATOMIC_RELAXED);
}

bool nfk_has_finding_a(void) { return NF_KERNEL_HAS_FINDING_A; }

int nfk_invalidate_start(nfk_mm *m, const nfk_range *r, nfk_invalidation **out) {
  struct rw_semaphore *rmap = &m->mm.nf_rmap_locks;
  nfk_invalidation *inv = calloc(1, sizeof(*inv));
  if (!inv)
    abort();
  /* 6.1's range has a vma (always NULL here: no caller of nf has one); 6.12's
   * has none (NF_KERNEL_VERSION_CODE: kernel/CMakeLists.txt). */
#if NF_KERNEL_VERSION_CODE >= 0x060c00
  mmu_notifier_range_init_owner(&inv->range, (enum mmu_notifier_event)r->event, 0, &m->mm, r->start,
                                r->end, r->owner);
#else
  mmu_notifier_range_init_owner(&inv->range, (enum mmu_notifier_event)r->event, 0, NULL, &m->mm,
                                r->start, r->end, r->owner);
#endif
  inv->mm = m;
  inv->holds_rmap_locks = nf_kernel_rwsem_held(rmap) == 0;
  if (r->blockable) {
    if (inv->holds_rmap_locks)
      down_read(rmap);
    mmu_notifier_invalidate_range_start(&inv->range);
  } else {
    if (inv->holds_rmap_locks && !down_read_trylock(rmap)) {
      free(inv);
      return -EAGAIN;
    }
    nf_kernel_lock_map_trylock_begin(); /* waits for nothing (sync/lock_order.h) */
    int ret = mmu_notifier_invalidate_range_start_nonblock(&inv->range);
    nf_kernel_lock_map_trylock_end();
    if (ret) {
      if (inv->classic_start_failed)
        nfk_close_leaked_walk(m);
      if (inv->holds_rmap_locks)
        up_read(rmap);
      free(inv);
      return ret;
    }
  }
  *out = inv;
  return 0;
}

void nfk_invalidate_end(nfk_invalidation *inv) {
  nf_kernel_lock_map_trylock_begin(); /* an end waits for nothing (sync/lock_order.h) */
  mmu_notifier_invalidate_range_end(&inv->range);
  nf_kernel_lock_map_trylock_end();
  if (inv->holds_rmap_locks)
    up_read(&inv->mm->mm.nf_rmap_locks);
  free(inv);
}

void nfk_invalidate_only_end(nfk_invalidation *inv) {
  nf_kernel_lock_map_trylock_begin(); /* an end waits for nothing (sync/lock_order.h) */
#if NF_KERNEL_VERSION_CODE >= 0x060600
  /* 6.6 dropped invalidate_range and with it the range-only end: every end
   * is one. */
  mmu_notifier_invalidate_range_end(&inv->range);
#else
  mmu_notifier_invalidate_range_only_end(&inv->range);
#endif
  nf_kernel_lock_map_trylock_end();
  if (inv->holds_rmap_locks)
    up_read(&inv->mm->mm.nf_rmap_locks);
  free(inv);
}

/* ---- the secondary-MMU API --------------------------------------------------------------- */

/* The kernel's callers of the young, change_pte and secondary-TLB notifiers
 * hold an rmap lock (folio_referenced, try_to_unmap_one: an rmap walk) or the
 * mmap lock (damon, KSM, a write fault), either of which orders their
 * unlocked mm_has_notifiers() against a registration's publishing store under
 * mm_take_all_locks. As an invalidation here, they take the rmap locks for
 * reading unless this thread already holds them (inside its own open
 * invalidation, as try_to_unmap_one's flush is). Returns whether it took them. */
static bool nfk_rmap_enter(nfk_mm *m) {
  struct rw_semaphore *rmap = &m->mm.nf_rmap_locks;
  if (nf_kernel_rwsem_held(rmap) != 0)
    return false;
  down_read(rmap);
  return true;
}

static void nfk_rmap_exit(nfk_mm *m, bool took) {
  if (took)
    up_read(&m->mm.nf_rmap_locks);
}

int nfk_clear_flush_young(nfk_mm *m, unsigned long start, unsigned long end) {
  bool took = nfk_rmap_enter(m);
  int young = mmu_notifier_clear_flush_young(&m->mm, start, end);
  nfk_rmap_exit(m, took);
  return young;
}

int nfk_clear_young(nfk_mm *m, unsigned long start, unsigned long end) {
  bool took = nfk_rmap_enter(m);
  int young = mmu_notifier_clear_young(&m->mm, start, end);
  nfk_rmap_exit(m, took);
  return young;
}

int nfk_test_young(nfk_mm *m, unsigned long address) {
  bool took = nfk_rmap_enter(m);
  int young = mmu_notifier_test_young(&m->mm, address);
  nfk_rmap_exit(m, took);
  return young;
}

bool nfk_has_change_pte(void) { return NF_KERNEL_VERSION_CODE < 0x060600; }

void nfk_change_pte(nfk_mm *m, unsigned long address) {
#if NF_KERNEL_VERSION_CODE < 0x060600
  pte_t pte = {0};
  bool took = nfk_rmap_enter(m);
  mmu_notifier_change_pte(&m->mm, address, pte);
  nfk_rmap_exit(m, took);
#else
  (void)m;
  (void)address;
#endif
}

void nfk_invalidate_secondary_tlbs(nfk_mm *m, unsigned long start, unsigned long end) {
  bool took = nfk_rmap_enter(m);
#if NF_KERNEL_VERSION_CODE >= 0x060600
  mmu_notifier_arch_invalidate_secondary_tlbs(&m->mm, start, end);
#else
  mmu_notifier_invalidate_range(&m->mm, start, end);
#endif
  nfk_rmap_exit(m, took);
}

bool nfk_end_calls_secondary_tlb(void) { return NF_KERNEL_VERSION_CODE < 0x060600; }

bool nfk_has_range_update_to_read_only(void) { return NF_KERNEL_VERSION_CODE < 0x060600; }

bool nfk_range_update_to_read_only(nfk_mm *m, unsigned long start, unsigned long end, int event) {
#if NF_KERNEL_VERSION_CODE < 0x060600
  struct vm_area_struct vma = {.vm_flags = VM_READ};
  struct mmu_notifier_range range;
  mmu_notifier_range_init(&range, (enum mmu_notifier_event)event, 0, &vma, &m->mm, start, end);
  return mmu_notifier_range_update_to_read_only(&range);
#else
  /* Declared in 6.12's mmu_notifier.h, defined nowhere. */
  (void)m;
  (void)start;
  (void)end;
  (void)event;
  return false;
#endif
}

/* ---- classic subscribers ---------------------------------------------------------------- */

static nfk_classic *nfk_classic_of(struct mmu_notifier *s) { return container_of(s, nfk_classic, sub); }

static void nfk_classic_release(struct mmu_notifier *s, struct mm_struct *mm) {
  nfk_classic *c = nfk_classic_of(s);
  c->ops->cb.release(c->ops->cookie, c);
}

static int nfk_classic_start(struct mmu_notifier *s, const struct mmu_notifier_range *r) {
  nfk_classic *c = nfk_classic_of(s);
  nfk_range range;
  nfk_to_range(r, &range);
  int ret = c->ops->cb.invalidate_range_start(c->ops->cookie, c, &range);
  /* Every range the kernel passes here is an nfk_invalidation's (only
   * nfk_invalidate_start starts invalidations). */
  if (ret)
    container_of((struct mmu_notifier_range *)r, nfk_invalidation, range)->classic_start_failed = true;
  return ret;
}

static void nfk_classic_end(struct mmu_notifier *s, const struct mmu_notifier_range *r) {
  nfk_classic *c = nfk_classic_of(s);
  nfk_range range;
  nfk_to_range(r, &range);
  c->ops->cb.invalidate_range_end(c->ops->cookie, c, &range);
}

static struct mmu_notifier *nfk_classic_alloc_notifier(struct mm_struct *mm) {
  nfk_mm *m = container_of(mm, nfk_mm, mm);
  nfk_classic *c = calloc(1, sizeof(*c));
  if (!c)
    return ERR_PTR(-ENOMEM);
  c->ops = m->alloc_ops;
  if (c->ops->cb.alloc)
    c->ops->cb.alloc(c->ops->cookie, c);
  return &c->sub;
}

static void nfk_classic_free_notifier(struct mmu_notifier *s) {
  nfk_classic *c = nfk_classic_of(s);
  if (c->ops->cb.free_notifier)
    c->ops->cb.free_notifier(c->ops->cookie, c);
  free(c);
}

static int nfk_classic_clear_flush_young(struct mmu_notifier *s, struct mm_struct *mm,
                                         unsigned long start, unsigned long end) {
  nfk_classic *c = nfk_classic_of(s);
  return c->ops->cb.clear_flush_young(c->ops->cookie, c, start, end);
}

static int nfk_classic_clear_young(struct mmu_notifier *s, struct mm_struct *mm,
                                   unsigned long start, unsigned long end) {
  nfk_classic *c = nfk_classic_of(s);
  return c->ops->cb.clear_young(c->ops->cookie, c, start, end);
}

static int nfk_classic_test_young(struct mmu_notifier *s, struct mm_struct *mm,
                                  unsigned long address) {
  nfk_classic *c = nfk_classic_of(s);
  return c->ops->cb.test_young(c->ops->cookie, c, address);
}

static void nfk_classic_secondary_tlb(struct mmu_notifier *s, struct mm_struct *mm,
                                      unsigned long start, unsigned long end) {
  nfk_classic *c = nfk_classic_of(s);
  c->ops->cb.secondary_tlb(c->ops->cookie, c, start, end);
}

#if NF_KERNEL_VERSION_CODE < 0x060600
static void nfk_classic_change_pte(struct mmu_notifier *s, struct mm_struct *mm,
                                   unsigned long address, pte_t pte) {
  nfk_classic *c = nfk_classic_of(s);
  c->ops->cb.change_pte(c->ops->cookie, c, address);
}
#endif

NFK_HARNESS nfk_ops *nfk_ops_create(const nfk_classic_callbacks *cb, void *cookie) {
  nfk_ops *o = calloc(1, sizeof(*o));
  if (!o)
    abort();
  o->cb = *cb;
  o->cookie = cookie;
  o->ops.release = cb->release ? nfk_classic_release : NULL;
  o->ops.invalidate_range_start = cb->invalidate_range_start ? nfk_classic_start : NULL;
  o->ops.invalidate_range_end = cb->invalidate_range_end ? nfk_classic_end : NULL;
  o->ops.clear_flush_young = cb->clear_flush_young ? nfk_classic_clear_flush_young : NULL;
  o->ops.clear_young = cb->clear_young ? nfk_classic_clear_young : NULL;
  o->ops.test_young = cb->test_young ? nfk_classic_test_young : NULL;
#if NF_KERNEL_VERSION_CODE >= 0x060600
  o->ops.arch_invalidate_secondary_tlbs = cb->secondary_tlb ? nfk_classic_secondary_tlb : NULL;
#else
  o->ops.invalidate_range = cb->secondary_tlb ? nfk_classic_secondary_tlb : NULL;
  o->ops.change_pte = cb->change_pte ? nfk_classic_change_pte : NULL;
#endif
  o->ops.alloc_notifier = nfk_classic_alloc_notifier;
  o->ops.free_notifier = nfk_classic_free_notifier;
  return o;
}

void nfk_ops_destroy(nfk_ops *ops) { free(ops); }

void nfk_classic_set_user(nfk_classic *sub, void *user) { sub->user = user; }
void *nfk_classic_user(const nfk_classic *sub) { return sub->user; }

unsigned long nfk_interval_seq(const nfk_interval *sub) {
  return READ_ONCE(sub->sub.invalidate_seq);
}

nfk_classic *nfk_classic_alloc(nfk_ops *ops) {
  nfk_classic *c = calloc(1, sizeof(*c));
  if (!c)
    abort();
  c->ops = ops;
  c->sub.ops = &ops->ops;
  return c;
}

void nfk_classic_free(nfk_classic *sub) { free(sub); }
nfk_ops *nfk_classic_ops(const nfk_classic *sub) { return sub->ops; }

int nfk_classic_register(nfk_mm *m, nfk_classic *sub) { return mmu_notifier_register(&sub->sub, &m->mm); }

void nfk_classic_unregister(nfk_mm *m, nfk_classic *sub) { mmu_notifier_unregister(&sub->sub, &m->mm); }

/* The header's mmu_notifier_get, with alloc_ops set under the mmap lock. */
nfk_classic *nfk_classic_get(nfk_mm *m, nfk_ops *ops, int *err) {
  mmap_write_lock(&m->mm);
  m->alloc_ops = ops;
  struct mmu_notifier *s = mmu_notifier_get_locked(&ops->ops, &m->mm);
  m->alloc_ops = NULL;
  mmap_write_unlock(&m->mm);
  if (IS_ERR(s)) {
    if (err)
      *err = (int)PTR_ERR(s);
    return NULL;
  }
  if (err)
    *err = 0;
  return nfk_classic_of(s);
}

void nfk_classic_put(nfk_classic *sub) { mmu_notifier_put(&sub->sub); }

void nfk_synchronize(void) { mmu_notifier_synchronize(); }

/* ---- snapshot ---------------------------------------------------------------------------- */

struct nfk_pending_count {
  struct mm_struct *mm; /* NULL: every mm */
  size_t n;
};

NFK_HARNESS static void nfk_count_pending(void *ctx, struct rcu_head *head, void (*func)(struct rcu_head *)) {
  struct nfk_pending_count *c = ctx;
  if (!c->mm || (func == mmu_notifier_free_rcu &&
                 container_of(head, struct mmu_notifier, rcu)->mm == c->mm))
    c->n++;
}

NFK_HARNESS void nfk_snapshot_take(nfk_mm *m, nfk_snapshot *s) {
  struct mm_struct *mm = &m->mm;
  struct mmu_notifier_subscriptions *subs = smp_load_acquire(&mm->notifier_subscriptions);

  s->mm_users = atomic_read(&mm->mm_users);
  s->mm_count = atomic_read(&mm->mm_count);
  s->has_subscriptions = subs != NULL;
  s->has_itree = false;
  s->invalidate_seq = 0;
  s->active_invalidate_ranges = 0;
  s->num_tree = s->num_deferred = s->num_classic = 0;
  if (subs) {
    spin_lock(&subs->lock);
    s->has_itree = subs->has_itree;
    s->invalidate_seq = subs->invalidate_seq;
    s->active_invalidate_ranges = subs->active_invalidate_ranges;
    for (struct rb_node *n = rb_first_cached(&subs->itree); n; n = rb_next(n)) {
      struct mmu_interval_notifier *is =
          container_of(n, struct mmu_interval_notifier, interval_tree.rb);
      if (s->num_tree < s->tree_cap) {
        nfk_tree_entry *e = &s->tree[s->num_tree];
        e->sub = container_of(is, nfk_interval, sub);
        e->start = is->interval_tree.start;
        e->last = is->interval_tree.last;
        e->seq = is->invalidate_seq;
      }
      s->num_tree++;
    }
    for (struct hlist_node *n = subs->deferred_list.first; n; n = n->next) {
      struct mmu_interval_notifier *is = container_of(n, struct mmu_interval_notifier, deferred_item);
      if (s->num_deferred < s->deferred_cap) {
        nfk_deferred_entry *e = &s->deferred[s->num_deferred];
        e->sub = container_of(is, nfk_interval, sub);
        e->insert = RB_EMPTY_NODE(&is->interval_tree.rb);
      }
      s->num_deferred++;
    }
    for (struct hlist_node *n = subs->list.first; n; n = n->next) {
      struct mmu_notifier *cs = container_of(n, struct mmu_notifier, hlist);
      if (s->num_classic < s->classic_cap) {
        nfk_classic_entry *e = &s->classic[s->num_classic];
        e->sub = nfk_classic_of(cs);
        e->ops = e->sub->ops;
        e->users = cs->users;
      }
      s->num_classic++;
    }
    spin_unlock(&subs->lock);
  }
  struct nfk_pending_count c = {mm, 0};
  nf_kernel_srcu_for_each_pending(&srcu, nfk_count_pending, &c);
  s->num_pending_frees = c.n;
}

NFK_HARNESS size_t nfk_pending_srcu_callbacks(void) {
  struct nfk_pending_count c = {NULL, 0};
  nf_kernel_srcu_for_each_pending(&srcu, nfk_count_pending, &c);
  return c.n;
}
