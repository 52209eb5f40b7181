/* Each function here only forwards to a DPDK static inline function. */
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
