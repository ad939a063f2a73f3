/* Placeholder for <linux/slab.h>: kernel/shim/nf_kernel_shim.h (force-included)
 * provides what the kernel files of the nf kernel target use from it. */
