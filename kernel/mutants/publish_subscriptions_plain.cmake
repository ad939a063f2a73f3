# publish_subscriptions_plain (a race mutant: a marked access made plain). The
# first registration publishes the new mmu_notifier_subscriptions with a plain
# store instead of smp_store_release (6.1 line 678, 6.12 line 664), so a
# lockless reader's smp_load_acquire (mmu_interval_notifier_insert,
# mmu_interval_read_begin's callers) is no longer ordered after the object's
# initialization. Values are the same under sequential consistency: only the
# race detector (P10) sees it (kernel/README.md, docs/bugs.md).
nf_edit("\t\tsmp_store_release(&mm->notifier_subscriptions, subscriptions);"
        "\t\tmm->notifier_subscriptions = subscriptions;")
