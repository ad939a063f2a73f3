# free_without_grace_period (the class of bug fixed by 6d7c3cde93c1, v5.3).
# mmu_notifier_put hands the unlinked subscriber to call_srcu (line 905) so
# that it is freed only after every SRCU reader that may still see it on the
# list has finished. The edit frees it at once.
nf_edit("\tcall_srcu(&srcu, &subscription->rcu, mmu_notifier_free_rcu);"
        "\tmmu_notifier_free_rcu(&subscription->rcu);")
