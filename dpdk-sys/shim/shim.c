/* Out-of-line wrappers for DPDK static inline functions, and the one setup
 * helper (vs_rss_program) whose arrays are simpler to fill in C. */
#include <string.h>
#include <errno.h>
#include "shim.h"
#include <rte_prefetch.h>
#include <rte_pause.h>

uint16_t vs_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t vs_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *vs_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

int vs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}

void vs_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

void vs_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n) { rte_pktmbuf_free_bulk(pkts, n); }

char *vs_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, char *); }

uint32_t vs_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }

uint16_t vs_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }

uint16_t vs_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }

char *vs_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }

int vs_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }

char *vs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }

char *vs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }

uint16_t vs_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }

uint16_t vs_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }

uint32_t vs_mbuf_rss_hash(const struct rte_mbuf *m) { return m->hash.rss; }

uint64_t vs_mbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }

uint32_t vs_mbuf_packet_type(const struct rte_mbuf *m) { return m->packet_type; }

void vs_prefetch0(const void *p) { rte_prefetch0(p); }

unsigned vs_lcore_id(void) { return rte_lcore_id(); }

int vs_errno(void) { return rte_errno; }

uint64_t vs_get_tsc_cycles(void) { return rte_get_tsc_cycles(); }

uint64_t vs_get_tsc_hz(void) { return rte_get_tsc_hz(); }

void vs_pause(void) { rte_pause(); }

struct rte_ring *vs_ring_create_spsc(const char *name, unsigned count, int socket) {
    return rte_ring_create(name, count, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
}

void vs_ring_free(struct rte_ring *r) { rte_ring_free(r); }

unsigned vs_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) {
    return rte_ring_enqueue_burst(r, (void *const *)pkts, n, NULL);
}

unsigned vs_ring_dequeue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) {
    return rte_ring_dequeue_burst(r, (void **)pkts, n, NULL);
}

unsigned vs_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }

/* Programs a configured port's redirection table so that entry j goes to
 * queue (j % span) % queues: the low bits of the hash name the queue as the
 * switch's owner function names the worker. Returns 0 (also when the device
 * has no table), or the failing call's negative code. */
int vs_rss_reta_program(uint16_t port, uint16_t span, uint16_t queues) {
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0)
        return rc;
    uint16_t size = info.reta_size;
    if (size == 0 || queues == 0 || span == 0)
        return 0;
    if (size > RTE_ETH_RSS_RETA_SIZE_512)
        return -EINVAL;
    struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];
    memset(reta, 0, sizeof(reta));
    for (uint16_t j = 0; j < size; j++) {
        struct rte_eth_rss_reta_entry64 *g = &reta[j / RTE_ETH_RETA_GROUP_SIZE];
        g->mask |= 1ULL << (j % RTE_ETH_RETA_GROUP_SIZE);
        g->reta[j % RTE_ETH_RETA_GROUP_SIZE] = (j % span) % queues;
    }
    return rte_eth_dev_rss_reta_update(port, reta, size);
}
