# remove_unlocked_wait (fixed upstream by 319561669a59, v5.18).
# Before the fix mmu_interval_notifier_remove waited for
#   READ_ONCE(subscriptions->invalidate_seq) != seq
# without the lock. mn_itree_inv_end bumps the seq (line 142) before it drains
# the deferred list (lines 150-160), both under the lock, so a remover reading
# the seq locklessly can return, and its caller free the subscription, while
# the ender still has it on the deferred list. The edit puts the old condition
# back in place of mmu_interval_seq_released() (line 1098), which the fix added
# to read the seq under the lock. (mmu_interval_seq_released is then unused.)
nf_edit("\t\t\t   mmu_interval_seq_released(subscriptions, seq));"
        "\t\t\t   READ_ONCE(subscriptions->invalidate_seq) != seq);")
