/* Out-of-line wrappers for DPDK's static inline functions, so that Rust can call them. */
#ifndef VS_SHIM_H
#define VS_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include <rte_ring.h>

uint16_t vs_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t vs_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *vs_pktmbuf_alloc(struct rte_mempool *mp);
int vs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n);
void vs_pktmbuf_free(struct rte_mbuf *m);
void vs_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n);
char *vs_pktmbuf_mtod(struct rte_mbuf *m);
uint32_t vs_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t vs_pktmbuf_data_len(const struct rte_mbuf *m);
uint16_t vs_pktmbuf_nb_segs(const struct rte_mbuf *m);
char *vs_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int vs_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
char *vs_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *vs_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
uint16_t vs_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t vs_pktmbuf_tailroom(const struct rte_mbuf *m);
uint32_t vs_mbuf_rss_hash(const struct rte_mbuf *m);
uint64_t vs_mbuf_ol_flags(const struct rte_mbuf *m);
uint32_t vs_mbuf_packet_type(const struct rte_mbuf *m);
void vs_prefetch0(const void *p);
unsigned vs_lcore_id(void);
int vs_errno(void);
uint64_t vs_get_tsc_cycles(void);
uint64_t vs_get_tsc_hz(void);
void vs_pause(void);
struct rte_ring *vs_ring_create_spsc(const char *name, unsigned count, int socket);
void vs_ring_free(struct rte_ring *r);
unsigned vs_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n);
unsigned vs_ring_dequeue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n);
unsigned vs_ring_count(const struct rte_ring *r);
int vs_rss_reta_program(uint16_t port, uint16_t span, uint16_t queues);

#endif
