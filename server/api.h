/* Handlers and parameter schemas of the REST API, one section per api_*.c
 * file.  The route table in routes.c refers to these. */
#ifndef CORRAL_API_H
#define CORRAL_API_H

#include "server/router.h"

/* --- api_access.c: /access --- */

/* Proxmox formats of the access objects (auth_format.c), as param_check_fn. */
int param_check_pve_userid(const char *v, char *err, size_t errlen);
int param_check_pve_userid_list(const char *v, char *err, size_t errlen);
int param_check_userid_or_token(const char *v, char *err, size_t errlen);
int param_check_pve_groupid(const char *v, char *err, size_t errlen);
int param_check_pve_groupid_list(const char *v, char *err, size_t errlen);
int param_check_pve_roleid(const char *v, char *err, size_t errlen);
int param_check_pve_roleid_list(const char *v, char *err, size_t errlen);
int param_check_pve_tokenid(const char *v, char *err, size_t errlen);
int param_check_pve_tokenid_list(const char *v, char *err, size_t errlen);
int param_check_token_subid(const char *v, char *err, size_t errlen);
int param_check_pve_realm(const char *v, char *err, size_t errlen);
int param_check_pve_priv_list(const char *v, char *err, size_t errlen);
int param_check_pve_poolid(const char *v, char *err, size_t errlen);
int param_check_pve_vmid_list(const char *v, char *err, size_t errlen);
int param_check_pve_storage_id_list(const char *v, char *err, size_t errlen);

extern const struct param_spec api_access_no_params[];
extern const struct param_spec api_access_ticket_params[];
extern const struct param_spec api_access_acl_put_params[];
extern const struct param_spec api_access_permissions_params[];
extern const struct param_spec api_access_password_params[];
int api_access_index(struct req *req, struct resp *resp);
int api_access_ticket_get(struct req *req, struct resp *resp);
int api_access_ticket(struct req *req, struct resp *resp);
int api_access_domains(struct req *req, struct resp *resp);
int api_access_acl_get(struct req *req, struct resp *resp);
int api_access_acl_put(struct req *req, struct resp *resp);
int api_access_permissions(struct req *req, struct resp *resp);
int api_access_password(struct req *req, struct resp *resp);

/* api_access_users.c: users and their API tokens */
extern const struct param_spec api_access_users_params[];
extern const struct param_spec api_access_user_create_params[];
extern const struct param_spec api_access_user_params[];
extern const struct param_spec api_access_user_update_params[];
extern const struct param_spec api_access_token_params[];
extern const struct param_spec api_access_token_set_params[];
int api_access_users(struct req *req, struct resp *resp);
int api_access_user_create(struct req *req, struct resp *resp);
int api_access_user_get(struct req *req, struct resp *resp);
int api_access_user_update(struct req *req, struct resp *resp);
int api_access_user_delete(struct req *req, struct resp *resp);
int api_access_tokens(struct req *req, struct resp *resp);
int api_access_token_get(struct req *req, struct resp *resp);
int api_access_token_create(struct req *req, struct resp *resp);
int api_access_token_update(struct req *req, struct resp *resp);
int api_access_token_delete(struct req *req, struct resp *resp);

/* api_access_groups.c: groups and roles */
extern const struct param_spec api_access_group_params[];
extern const struct param_spec api_access_group_set_params[];
extern const struct param_spec api_access_role_params[];
extern const struct param_spec api_access_role_create_params[];
extern const struct param_spec api_access_role_update_params[];
int api_access_groups(struct req *req, struct resp *resp);
int api_access_group_create(struct req *req, struct resp *resp);
int api_access_group_get(struct req *req, struct resp *resp);
int api_access_group_update(struct req *req, struct resp *resp);
int api_access_group_delete(struct req *req, struct resp *resp);
int api_access_roles(struct req *req, struct resp *resp);
int api_access_role_create(struct req *req, struct resp *resp);
int api_access_role_get(struct req *req, struct resp *resp);
int api_access_role_update(struct req *req, struct resp *resp);
int api_access_role_delete(struct req *req, struct resp *resp);

/* --- api_tasks.c: /nodes/{node}/tasks --- */

extern const struct param_spec api_tasks_list_params[];
extern const struct param_spec api_task_params[];
extern const struct param_spec api_task_log_params[];
int api_tasks_list(struct req *req, struct resp *resp);
int api_task_index(struct req *req, struct resp *resp);
int api_task_status(struct req *req, struct resp *resp);
int api_task_log(struct req *req, struct resp *resp);
int api_task_stop(struct req *req, struct resp *resp);
/* This node's running tasks and its latest finished ones, LIMIT rows in all,
 * newest first, as the caller may see them (for /cluster/tasks). */
int api_tasks_recent(struct req *req, struct resp *resp, int64_t limit);
/* The answer of a handler that started task UPID: the UPID string; or, when
 * DELAY_S > 0 (Proxmox's background_delay) and the task ends within it, null
 * for success or a 500 "<WHAT>: <exit status>" for a failure. */
int api_task_reply(struct req *req, struct resp *resp, const char *upid, int delay_s,
		   const char *what);

/* --- api_nodes.c: /version, /nodes, /nodes/{node}/status --- */

extern const struct param_spec api_no_params[];
extern const struct param_spec api_node_params[]; /* just {node} */
int api_version(struct req *req, struct resp *resp);
int api_nodes_list(struct req *req, struct resp *resp);
int api_node_index(struct req *req, struct resp *resp);
int api_node_status(struct req *req, struct resp *resp);

/* 1 when NODE is this corrald's node.  The one place that decides whether a
 * {node} request is served here (the cluster will forward the others). */
int api_node_is_local(const struct app *app, const char *node);
/* 0 when the {node} parameter is this node; else 500 "no such node" in RESP. */
int api_node_check(const struct req *req, struct resp *resp);
/* 1 when the caller holds any of PRIVS ("A|B") on PATH: for handlers that
 * filter what they show (PERM_USER routes). */
int api_can(const struct req *req, const char *path, const char *privs);
int api_can_audit_node(const struct req *req, const char *node);
/* [{name}] of the route table's path segments right under PREFIX
 * ("/nodes/{node}/"), sorted: the index answers of Proxmox. */
cJSON *api_subdirs(const char *prefix);
/* This node's row for /nodes (FOR_RESOURCES 0: with ssl_fingerprint) or
 * /cluster/resources (1: with cgroup-mode); figures only with Sys.Audit on
 * /nodes/<node>.  *OUT is owned by the caller. */
int api_node_row(const struct req *req, int for_resources, cJSON **out);

/* --- api_network.c: /nodes/{node}/network (interfaces listing) --- */

extern const struct param_spec api_network_params[];
int api_network_index(struct req *req, struct resp *resp);

/* --- api_rrd.c: rrddata (statistics history for graphs) --- */

extern const struct param_spec api_node_rrddata_params[];
extern const struct param_spec api_qemu_rrddata_params[];
int api_node_rrddata(struct req *req, struct resp *resp);
int api_qemu_rrddata(struct req *req, struct resp *resp);

/* --- api_cluster.c: /cluster --- */

extern const struct param_spec api_nextid_params[];
extern const struct param_spec api_resources_params[];
int api_cluster_index(struct req *req, struct resp *resp);
int api_cluster_status(struct req *req, struct resp *resp);
int api_cluster_nextid(struct req *req, struct resp *resp);
int api_cluster_resources(struct req *req, struct resp *resp);
int api_cluster_tasks(struct req *req, struct resp *resp);
/* Other members' rows for /nodes (FOR_RESOURCES 0) or /cluster/resources
 * (1), from their gossiped records, appended to ROWS.  0 or -ENOMEM. */
int api_cluster_member_rows(const struct req *req, int for_resources, cJSON *rows);
/* The /cluster/resources rows of one ?type= ("vm", "storage"...) the caller
 * may see, appended to ROWS (VM rows may be raw JSON items). */
int api_cluster_rows(const struct req *req, const char *type, cJSON *rows);

/* --- api_cluster_config.c: /cluster/config and the peer-only /cluster/peer --- */

extern const struct param_spec api_cluster_create_params[];
extern const struct param_spec api_cluster_join_params[];
extern const struct param_spec api_cluster_join_info_params[];
extern const struct param_spec api_cluster_node_params[];
extern const struct param_spec api_cluster_addnode_params[];
extern const struct param_spec api_cluster_peer_inv_params[];
extern const struct param_spec api_cluster_key_params[];
int api_cluster_config_index(struct req *req, struct resp *resp);
int api_cluster_config_create(struct req *req, struct resp *resp);
int api_cluster_config_join(struct req *req, struct resp *resp);
int api_cluster_config_join_info(struct req *req, struct resp *resp);
int api_cluster_config_nodes(struct req *req, struct resp *resp);
int api_cluster_config_addnode(struct req *req, struct resp *resp);
int api_cluster_config_delnode(struct req *req, struct resp *resp);
/* POST (install), PUT (use), DELETE (remove) /cluster/config/keys. */
int api_cluster_config_key(struct req *req, struct resp *resp);
int api_cluster_peer_inventory(struct req *req, struct resp *resp);
int api_cluster_peer_access(struct req *req, struct resp *resp);

/* --- api_qemu*.c: /nodes/{node}/qemu (VMs) --- */

extern const struct param_spec api_qemu_list_params[];
extern const struct param_spec api_qemu_create_params[];
extern const struct param_spec api_qemu_vm_params[];
extern const struct param_spec api_qemu_destroy_params[];
extern const struct param_spec api_qemu_config_get_params[];
extern const struct param_spec api_qemu_config_set_params[];
extern const struct param_spec api_qemu_start_params[];
extern const struct param_spec api_qemu_stop_params[];
extern const struct param_spec api_qemu_shutdown_params[];
extern const struct param_spec api_qemu_reboot_params[];
extern const struct param_spec api_qemu_skiplock_params[];
extern const struct param_spec api_qemu_suspend_params[];
int api_qemu_list(struct req *req, struct resp *resp);
int api_qemu_create(struct req *req, struct resp *resp);
int api_qemu_index(struct req *req, struct resp *resp);
int api_qemu_destroy(struct req *req, struct resp *resp);
int api_qemu_config_get(struct req *req, struct resp *resp);
int api_qemu_config_post(struct req *req, struct resp *resp);
int api_qemu_config_put(struct req *req, struct resp *resp);
int api_qemu_pending(struct req *req, struct resp *resp);
/* Cloud-init (api_qemu_cloudinit.c). */
extern const struct param_spec api_qemu_cloudinit_dump_params[];
int api_qemu_cloudinit_get(struct req *req, struct resp *resp);
int api_qemu_cloudinit_put(struct req *req, struct resp *resp);
int api_qemu_cloudinit_dump(struct req *req, struct resp *resp);
int api_qemu_status_index(struct req *req, struct resp *resp);

/* api_qemu_agent.c: the QEMU guest agent */
extern const struct param_spec api_qemu_agent_params[];
extern const struct param_spec api_qemu_agent_exec_params[];
extern const struct param_spec api_qemu_agent_exec_status_params[];
extern const struct param_spec api_qemu_agent_file_read_params[];
extern const struct param_spec api_qemu_agent_file_write_params[];
extern const struct param_spec api_qemu_agent_password_params[];
int api_qemu_agent_index(struct req *req, struct resp *resp);
int api_qemu_agent(struct req *req, struct resp *resp);
int api_qemu_agent_named(struct req *req, struct resp *resp);
int api_qemu_agent_exec(struct req *req, struct resp *resp);
int api_qemu_agent_exec_status(struct req *req, struct resp *resp);
int api_qemu_agent_file_read(struct req *req, struct resp *resp);
int api_qemu_agent_file_write(struct req *req, struct resp *resp);
int api_qemu_agent_set_password(struct req *req, struct resp *resp);
int api_qemu_status_current(struct req *req, struct resp *resp);
int api_qemu_start(struct req *req, struct resp *resp);
int api_qemu_stop(struct req *req, struct resp *resp);
int api_qemu_shutdown(struct req *req, struct resp *resp);
int api_qemu_reboot(struct req *req, struct resp *resp);
int api_qemu_reset(struct req *req, struct resp *resp);
int api_qemu_suspend(struct req *req, struct resp *resp);
int api_qemu_resume(struct req *req, struct resp *resp);
/* /cluster/resources rows of the VMs the caller may see, added to ROWS. */
int api_qemu_resource_rows(struct req *req, cJSON *rows);

/* --- api_qemu_snapshot.c, api_qemu_clone.c, api_qemu_resize.c: snapshots,
 * templates, clones, disk resize --- */
extern const struct param_spec api_qemu_snapshot_create_params[];
extern const struct param_spec api_qemu_snapshot_params[];
extern const struct param_spec api_qemu_snapshot_rollback_params[];
extern const struct param_spec api_qemu_snapshot_delete_params[];
extern const struct param_spec api_qemu_snapshot_config_params[];
int api_qemu_snapshot_list(struct req *req, struct resp *resp);
int api_qemu_snapshot_create(struct req *req, struct resp *resp);
int api_qemu_snapshot_index(struct req *req, struct resp *resp);
int api_qemu_snapshot_rollback(struct req *req, struct resp *resp);
int api_qemu_snapshot_delete(struct req *req, struct resp *resp);
int api_qemu_snapshot_config_get(struct req *req, struct resp *resp);
int api_qemu_snapshot_config_put(struct req *req, struct resp *resp);
extern const struct param_spec api_qemu_template_params[];
extern const struct param_spec api_qemu_clone_params[];
extern const struct param_spec api_qemu_resize_params[];
int api_qemu_template(struct req *req, struct resp *resp);
int api_qemu_clone(struct req *req, struct resp *resp);
int api_qemu_resize(struct req *req, struct resp *resp);

/* api_qemu_migrate.c: live migration (qmigrate) and its internal target side */
extern const struct param_spec api_qemu_migrate_get_params[];
extern const struct param_spec api_qemu_migrate_params[];
extern const struct param_spec api_qemu_migrate_in_params[];
extern const struct param_spec api_qemu_migrate_in_finish_params[];
extern const struct param_spec api_qemu_migrate_in_abort_params[];
int api_qemu_migrate_get(struct req *req, struct resp *resp);
int api_qemu_migrate(struct req *req, struct resp *resp);
int api_qemu_migrate_in(struct req *req, struct resp *resp);
int api_qemu_migrate_in_finish(struct req *req, struct resp *resp);
int api_qemu_migrate_in_abort(struct req *req, struct resp *resp);
/* api_qemu_migrate_disk.c: move_disk (qmmove) */
extern const struct param_spec api_qemu_move_disk_params[];
int api_qemu_move_disk(struct req *req, struct resp *resp);
/* At start-up: removes what incoming migrations this node never finished
 * left behind (their paused QEMU, volumes and credentials). */
void api_qemu_migrate_recover(struct app *app);

/* api_qemu_console.c: vncproxy, termproxy and their websocket */
extern const struct param_spec api_qemu_vncproxy_params[];
extern const struct param_spec api_qemu_termproxy_params[];
extern const struct param_spec api_qemu_vncwebsocket_params[];
int api_qemu_vncproxy(struct req *req, struct resp *resp);
int api_qemu_termproxy(struct req *req, struct resp *resp);
int api_qemu_vncwebsocket(struct req *req, struct resp *resp);

/* --- api_storage.c: /nodes/{node}/storage --- */

struct pool;
extern const struct param_spec api_storage_list_params[];
extern const struct param_spec api_storage_status_params[];
extern const struct param_spec api_storage_content_params[];
extern const struct param_spec api_storage_alloc_params[];
extern const struct param_spec api_storage_volume_params[];
extern const struct param_spec api_storage_volume_delete_params[];
extern const struct param_spec api_storage_copy_params[];
int api_storage_list(struct req *req, struct resp *resp);
int api_storage_status(struct req *req, struct resp *resp);
int api_storage_index(struct req *req, struct resp *resp);
int api_storage_content(struct req *req, struct resp *resp);
int api_storage_alloc(struct req *req, struct resp *resp);
int api_storage_volume_get(struct req *req, struct resp *resp);
int api_storage_volume_delete(struct req *req, struct resp *resp);
int api_storage_volume_copy(struct req *req, struct resp *resp);
/* /cluster/resources rows of the storages the caller may see. */
int api_storage_resource_rows(struct req *req, cJSON *rows);
/* The usable pool ID into *OUT, or Proxmox's 500 in RESP ("does not exist",
 * "is disabled", "unable to activate storage"). */
int api_storage_pool_for(struct req *req, struct resp *resp, const char *id, struct pool **out);
/* import-from=SRC_VOLID on a new disk of TARGET: the caller may read the
 * source (Datastore.Audit|Datastore.AllocateSpace on its storage, and
 * VM.Clone on the VM owning a disk image) and allocate on TARGET. */
int api_storage_check_import(const struct req *req, const char *target, const char *src_volid,
			     char *err, size_t errlen);
/* Copies SRC_VOLID into a new disk of VMID on TARGET in FORMAT (NULL:
 * qcow2); VOLID and *SIZE (bytes) describe the new disk. */
int api_storage_import(struct app *app, int vmid, const char *target, const char *src_volid,
		       const char *format, char *volid, size_t n, uint64_t *size, char *err,
		       size_t errlen);

/* --- api_storage_cfg.c: /storage definitions and the node's pool set --- */

extern const struct param_spec api_storage_cfg_list_params[];
extern const struct param_spec api_storage_cfg_create_params[];
extern const struct param_spec api_storage_cfg_params[];
extern const struct param_spec api_storage_cfg_update_params[];
int api_storage_cfg_list(struct req *req, struct resp *resp);
int api_storage_cfg_create(struct req *req, struct resp *resp);
int api_storage_cfg_get(struct req *req, struct resp *resp);
int api_storage_cfg_update(struct req *req, struct resp *resp);
int api_storage_cfg_delete(struct req *req, struct resp *resp);
/* Parameter formats: a content list, pve-node-list, pve-storage-path. */
int api_storage_check_content(const char *v, char *err, size_t errlen);
int api_storage_check_nodes(const char *v, char *err, size_t errlen);
int api_storage_check_path(const char *v, char *err, size_t errlen);
/* Start-up: the definitions ("local" added on the first start) opened into
 * app->pools; app->pool is "local".  ERR names storages that failed. */
int api_storage_start(struct app *app, char *err, size_t errlen);
void api_storage_stop(struct app *app);
/* The open pool STORAGE (borrowed; valid until api_storage_stop), or NULL
 * when it is not defined, disabled or not for this node. */
struct pool *api_storage_pool(struct app *app, const char *storage);
/* The stored definition of ID (*OUT owned by the caller), or CR_ENOTFOUND. */
int api_storage_definition(struct app *app, const char *id, cJSON **out);
/* Whether definition DOC applies to NODE (its "nodes" list), and is enabled there. */
int api_storage_on_node(const cJSON *doc, const char *node);
int api_storage_enabled(const cJSON *doc, const char *node);

/* --- upload.c: POST /nodes/{node}/storage/{storage}/upload (streamed) --- */

extern const struct param_spec api_storage_upload_params[];
/* Only reached when the body was not streamed: a 400. */
int api_storage_upload(struct req *req, struct resp *resp);

/* --- api_storage_download.c: POST .../storage/{storage}/download-url --- */

extern const struct param_spec api_storage_download_params[];
int api_storage_download(struct req *req, struct resp *resp);

/* --- api_pools.c: /pools (resource pools) --- */

extern const struct param_spec api_pools_list_params[];
extern const struct param_spec api_pools_get_params[];
extern const struct param_spec api_pools_create_params[];
extern const struct param_spec api_pools_update_params[];
extern const struct param_spec api_pools_delete_params[];
int api_pools_list(struct req *req, struct resp *resp);
int api_pools_get(struct req *req, struct resp *resp);
int api_pools_create(struct req *req, struct resp *resp);
int api_pools_update(struct req *req, struct resp *resp);
int api_pools_delete(struct req *req, struct resp *resp);
/* /cluster/resources: the pool rows the caller may audit, and "pool" on
 * the VM rows of ROWS from index FROM on whose VM is a pool member. */
int api_pools_resource_rows(const struct req *req, cJSON *rows);
int api_pools_tag_vm_rows(const struct req *req, cJSON *rows, int from);
/* VM.Allocate for new VM VMID (create, clone): on /pool/POOL when POOL is
 * given (it must exist), else on /vms/VMID.  0 or the answer in RESP. */
int api_pools_vm_allocate(const struct req *req, struct resp *resp, int vmid, const char *pool);
/* add_vm_to_pool: VMID joins POOL (leaving any other); a pool deleted
 * meanwhile is ignored.  0 or a store code. */
int api_pools_add_vm(struct app *app, const char *pool, int vmid);
/* remove_vm_access (VM destroy): VMID leaves its pool and the ACL entries on
 * /vms/VMID go.  0 or a store code. */
int api_pools_remove_vm(struct app *app, int vmid);

#endif
