# set_seq_outside_lock (v1 of the series, 2019-10; moved under the driver's
# lock in v2). The core stores cur_seq into the subscription itself, before
# calling the driver and outside the driver's lock (line 456), so a fault can
# pass read_retry between the store and the callback's teardown.
nf_edit("\t\tret = interval_sub->ops->invalidate(interval_sub, range,"
        "\t\tmmu_interval_set_seq(interval_sub, cur_seq); ret = interval_sub->ops->invalidate(interval_sub, range,")
