/* The daemon's context: one struct app per corrald process, passed explicitly
 * to every subsystem and handler (no globals). */
#ifndef CORRAL_APP_H
#define CORRAL_APP_H

#include <stdint.h>
#include <time.h>

#define APP_PATH_MAX 512
#define APP_NODE_MAX 64

struct store;
struct auth;
struct tasks;
struct http;
struct nodeinfo;
struct hv;
struct pool;
struct cluster;
struct rescache;
struct ws_hub;
struct console_grants;
struct rrdstat;
struct pool_set;

struct app_config {
	char data_dir[APP_PATH_MAX];  /* LMDB, certs, images (package: /var/lib/corral) */
	char run_dir[APP_PATH_MAX];   /* sockets, pidfiles (default DATA/run) */
	char log_dir[APP_PATH_MAX];   /* task logs live in LOG/tasks (default DATA) */
	char config_file[APP_PATH_MAX];
	char listen_addr[64];         /* "0.0.0.0" */
	uint16_t listen_port;         /* 8006 */
	char node[APP_NODE_MAX];      /* short hostname by default */
	int log_level;                /* enum log_level */
	unsigned http_threads;
	unsigned http_idle_timeout;   /* s a silent connection is kept (0: HTTP_IDLE_TIMEOUT) */
	unsigned task_workers;
	unsigned console_max;         /* console websockets at once (0: WS_HUB_DEFAULT_MAX) */
	char webui_dir[APP_PATH_MAX]; /* static files of the web UI */
	char gossip_listen[80];       /* cluster gossip UDP+TCP "0.0.0.0:7946" */
};

struct app {
	struct app_config cfg;
	struct store *store;
	struct store *task_store;     /* task index (STORE_NOSYNC); NULL: in store */
	struct auth *auth;
	struct tasks *tasks;
	struct http *http;
	struct nodeinfo *nodeinfo;    /* CPU sampler (nodeinfo_new); NULL: averages since boot */
	struct hv *hv;                /* running VMs (hv/vm.h); NULL: none can run */
	struct pool *pool;            /* the directory pool "local"; NULL: no storage */
	struct cluster *cluster;      /* membership (server/cluster.h); never NULL once started */
	struct rescache *rescache;    /* VM rows of /cluster/resources (rescache.h); NULL: none kept */
	struct ws_hub *ws;            /* console websockets (ws_bridge.h) */
	struct console_grants *consoles; /* one-time console tickets (api_qemu_console.h) */
	struct rrdstat *rrd;          /* statistics history (rrdstat.h); NULL: none kept */
	struct pool_set *pools;       /* every storage usable on this node (api_storage_cfg.c) */
	time_t started;               /* wall clock at start-up */
	char cert_fingerprint[128];   /* SHA-256, "AA:BB:..." as Proxmox shows it */
	volatile int stopping;        /* set by the signal handler */
};

#endif
