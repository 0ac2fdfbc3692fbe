// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA policy of a slot: which node a new page of the slot comes from.
 *
 * mbind() on a mapping of a slot gives that VMA a policy, which the core
 * keeps in vma->vm_policy (changed only under the mmap write lock) after
 * calling .set_policy, where kmig copies its mode, nodes and home node into
 * the slot. A new page's node is decided by the first that applies:
 *
 *   1. a fault through a VMA with a policy: that policy (vma_alloc_folio());
 *   2. a fault through another VMA of the slot, pwrite() and KMIG_INSTALL:
 *      the slot's copy, from the last mbind() that changed the policy of a
 *      mapping of the slot (MPOL_DEFAULT clears it);
 *   3. otherwise the allocating task's policy (set_mempolicy()).
 *
 * .get_policy returns the VMA's policy, else kmig_no_mof_policy: neither
 * has MPOL_F_MOF, so NUMA balancing leaves kmig's VMAs alone (on 6.12 a
 * NULL would fall back to the task's policy, MOF by default). kmig never
 * hands the core a policy object of its own: the core holds the result of
 * .get_policy without a reference across an allocation, or takes one with
 * mpol_get() across a sleep (get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)) and
 * drops it with mpol_put(), which would free the last reference into the
 * core's own cache. Only VMA policies, which the mmap lock and the core's
 * references keep alive, and a static policy are safe to return; the
 * slot's copy is plain data that no one outside this file sees.
 */
#include <linux/gfp.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "context.h"

#ifdef CONFIG_NUMA
/* Without MPOL_F_MOF: NUMA balancing leaves kmig's VMAs alone. */
static struct mempolicy kmig_no_mof_policy = {
	.refcnt = ATOMIC_INIT(1),
	.mode = MPOL_LOCAL,
	.home_node = NUMA_NO_NODE,
};

/* vm_ops->get_policy (compat.h gives it each kernel's signature). */
struct mempolicy *kmig_policy_get(struct vm_area_struct *vma)
{
	return vma_policy(vma) ?: &kmig_no_mof_policy;
}

/*
 * vm_ops->set_policy: mbind() is about to make @new (NULL: none) the
 * policy of @vma; the core holds the mmap write lock of @vma's mm, and
 * keeps @new itself. The slot takes a copy for the writers without a VMA
 * policy.
 */
int kmig_policy_set(struct vm_area_struct *vma, struct mempolicy *new)
{
	struct kmig_slot *slot = vma->vm_private_data;
	struct kmig_policy *pol = &slot->policy;

	/* mbind() cannot ask for it today; it would let NUMA balancing in. */
	if (new && (new->flags & MPOL_F_MOF))
		return -EINVAL;
	spin_lock(&pol->lock);
	if (new) {
		pol->nodes = new->nodes;
		pol->home_node = new->home_node;
	}
	WRITE_ONCE(pol->mode, new ? new->mode : MPOL_DEFAULT);
	spin_unlock(&pol->lock);
	return 0;
}

/* Node @n (modulo their number) of @nodes, counted from the first. */
static int nth_node(const nodemask_t *nodes, unsigned long n)
{
	unsigned int w = nodes_weight(*nodes);
	int nid = first_node(*nodes);

	if (!w)
		return numa_node_id();
	for (n %= w; n; n--)
		nid = next_node(nid, *nodes);
	return nid;
}

/* A folio on the node(s) the slot's copy @mode, @nodes, @home decides. */
static struct folio *alloc_by_copy(gfp_t gfp, unsigned int order,
				   unsigned short mode, nodemask_t *nodes,
				   int home, unsigned long idx)
{
	int nid = home != NUMA_NO_NODE ? home : numa_node_id();
	struct folio *folio;

	switch (mode) {
	case MPOL_LOCAL:
		return __folio_alloc(gfp, order, numa_node_id(), NULL);
	case MPOL_PREFERRED:
		return __folio_alloc(gfp, order, first_node(*nodes), NULL);
	case MPOL_BIND:
		return __folio_alloc(gfp, order, nid, nodes);
	case MPOL_PREFERRED_MANY:
		/* The nodes if they have a page at once, else anywhere. */
		folio = __folio_alloc((gfp | __GFP_NOWARN) &
				      ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL),
				      order, nid, nodes);
		return folio ?: __folio_alloc(gfp, order, nid, NULL);
	default:
		/* MPOL_INTERLEAVE; 6.9's weighted interleave, unweighted. */
		return __folio_alloc(gfp, order, nth_node(nodes, idx), NULL);
	}
}

/*
 * A new folio of @order for page @idx of @slot (the first of the folio),
 * faulted through @vmf or, if NULL, written without a mapping; @gfp as
 * for folio_alloc(). The node is decided as the top of this file says.
 */
struct folio *kmig_policy_alloc(struct kmig_slot *slot, unsigned long idx,
				unsigned int order, struct vm_fault *vmf,
				gfp_t gfp)
{
	struct kmig_policy *pol = &slot->policy;
	unsigned short mode;
	nodemask_t nodes;
	int home;

	/* The mmap or VMA lock of the fault keeps the VMA's policy. */
	if (vmf && vma_policy(vmf->vma))
		return vma_alloc_folio(gfp, order, vmf->vma,
				       vmf->address &
				       ~((PAGE_SIZE << order) - 1), false);
	if (READ_ONCE(pol->mode) == MPOL_DEFAULT)
		return folio_alloc(gfp, order);
	spin_lock(&pol->lock);
	mode = pol->mode;
	nodes = pol->nodes;
	home = pol->home_node;
	spin_unlock(&pol->lock);
	if (mode == MPOL_DEFAULT)
		return folio_alloc(gfp, order);
	return alloc_by_copy(gfp, order, mode, &nodes, home, idx);
}
#else
struct folio *kmig_policy_alloc(struct kmig_slot *slot, unsigned long idx,
				unsigned int order, struct vm_fault *vmf,
				gfp_t gfp)
{
	return folio_alloc(gfp, order);
}
#endif

void kmig_policy_init(struct kmig_slot *slot)
{
	spin_lock_init(&slot->policy.lock);
	slot->policy.mode = MPOL_DEFAULT;
	slot->policy.home_node = NUMA_NO_NODE;
}
