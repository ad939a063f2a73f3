# ops_after_insert (v1/v2 of the series; ops became an insert argument in v3).
# __mmu_interval_notifier_insert sets ->ops (line 919) before the subscription
# becomes visible to walks. The edit moves the store after the unlock (line
# 975): a walk racing the insert calls through a NULL ops.
nf_edit("\tinterval_sub->ops = ops;\n\tRB_CLEAR_NODE("
        "\n\tRB_CLEAR_NODE(")
nf_edit("\tspin_unlock(&subscriptions->lock);\n\treturn 0;\n}"
        "\tspin_unlock(&subscriptions->lock); interval_sub->ops = ops;\n\treturn 0;\n}")
